#!/usr/bin/env node
// Entry point: `node packages/trace-receiver/src/main.ts --config /etc/sextant/traces.yaml`.
// The `sextant trace-receiver` CLI subcommand calls runTraceReceiverMain(argv) directly.
import { setFlagsFromString } from 'node:v8';
import { runComponents } from '@sextant/pipeline';
import { loadTraceReceiverConfig } from './config.ts';
import type { TraceReceiverConfig } from './config.ts';
import { TraceReceiverError } from './errors.ts';
import { createTraceReceiver } from './receiver.ts';
import type { TraceReceiver } from './receiver.ts';

function configPathOf(argv: readonly string[]): string {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === '--config' || a === '-c') {
      const v = argv[i + 1];
      if (v === undefined || v.startsWith('-')) break;
      return v;
    }
    if (a.startsWith('--config=')) return a.slice('--config='.length);
  }
  throw new TraceReceiverError('SEXTANT_TRACES_USAGE', `no --config <file> in arguments ${JSON.stringify(argv)}; usage: sextant-trace-receiver --config <file.yaml>`);
}

/** Loads a YAML config file, applies SEXTANT_* environment overrides, validates. */
function loadTraceReceiverConfigFile(path: string, env: Record<string, string | undefined> = process.env): TraceReceiverConfig {
  return loadTraceReceiverConfig({ file: path, env });
}

/**
 * Runs the trace receiver until SIGTERM/SIGINT, then shuts down gracefully.
 * Resolves with the process exit code (0 after a clean shutdown, 1 on a startup error).
 */
async function runTraceReceiverMain(argv: readonly string[]): Promise<number> {
  let receiver: TraceReceiver;
  try {
    const config = loadTraceReceiverConfigFile(configPathOf(argv));
    // Every request is a few large Buffers (grpc-js reads and frames the message; the export
    // buffer is reused), and by default V8 starts a full mark-compact for every ~64 MiB of
    // Buffers allocated, whatever the heap holds: under load that GC was half of the main
    // thread's busy time (bench/README.md "traces"). With this flag external memory counts
    // toward the heap's own growing limit instead. V8 reads it when it next sizes its limits,
    // so setting it here, before the receiver allocates, is enough. Process-wide: only the
    // process entry does it, never createTraceReceiver.
    if (config.runtime.externalMemoryInHeapLimit) setFlagsFromString('--external-memory-accounted-in-global-limit');
    receiver = createTraceReceiver(config);
  } catch (err) {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
  try {
    // SIGTERM/SIGINT → receiver.shutdown() (graceful, bounded by shutdownTimeoutMs), then resolve.
    const r = receiver;
    const component = { name: r.name, start: async (): Promise<void> => void (await r.start()), shutdown: () => r.shutdown() };
    const running = await runComponents([component], { shutdownTimeoutMs: receiver.config.shutdownTimeoutMs + 5000, exitOnSignal: false });
    await running.stopped;
    return 0;
  } catch (err) {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
}

if (import.meta.main) {
  process.exitCode = await runTraceReceiverMain(process.argv.slice(2));
}

export { loadTraceReceiverConfigFile, runTraceReceiverMain };
