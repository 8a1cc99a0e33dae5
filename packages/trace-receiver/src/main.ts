#!/usr/bin/env node
// Entry point: `node packages/trace-receiver/src/main.ts --config /etc/sextant/traces.yaml`.
// The `sextant trace-receiver` CLI subcommand calls runTraceReceiverMain(argv) directly.
import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { resolveTraceReceiverConfig } from './config.ts';
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

/** Loads and validates a YAML (or JSON) config file. */
async function loadTraceReceiverConfigFile(path: string): Promise<TraceReceiverConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new TraceReceiverError('SEXTANT_TRACES_CONFIG', `config file ${JSON.stringify(path)} cannot be read: ${(err as Error).message}`, { cause: err });
  }
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new TraceReceiverError('SEXTANT_TRACES_CONFIG', `config file ${JSON.stringify(path)} is not valid YAML: ${(err as Error).message}`, { cause: err });
  }
  return resolveTraceReceiverConfig(doc);
}

/**
 * Runs the trace receiver until SIGTERM/SIGINT, then shuts down gracefully.
 * Resolves with the process exit code (0 after a clean shutdown, 1 on a startup error).
 */
async function runTraceReceiverMain(argv: readonly string[]): Promise<number> {
  let receiver: TraceReceiver;
  try {
    const config = await loadTraceReceiverConfigFile(configPathOf(argv));
    receiver = createTraceReceiver(config);
    await receiver.start();
  } catch (err) {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
  return new Promise<number>((resolve) => {
    const stop = (): void => {
      process.off('SIGTERM', stop);
      process.off('SIGINT', stop);
      receiver.shutdown().then(
        () => resolve(0),
        (err: unknown) => {
          process.stderr.write(`shutdown failed: ${err instanceof Error ? err.message : String(err)}\n`);
          resolve(1);
        },
      );
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  });
}

if (import.meta.main) {
  process.exitCode = await runTraceReceiverMain(process.argv.slice(2));
}

export { loadTraceReceiverConfigFile, runTraceReceiverMain };
