// `sextant enrichment|trace-receiver|node-collector --config <file.yaml>`: the component processes the chart runs
// (args [<component>, --config, /etc/sextant/config.yaml]). Each component package is imported only when its
// subcommand runs, so `sextant version` and the tools do not load them.
// Exit codes: 0 after SIGTERM/SIGINT and a clean shutdown, 2 for bad arguments or a config the loader rejects
// (the message names the key), 1 when the component fails to start or to shut down.
import { parseArgs } from 'node:util';
import { CliError } from './errors.ts';
import type { CliIo, Command } from './io.ts';

function usageOf(component: string): string {
  return `Usage: sextant ${component} --config <file.yaml>

Runs the ${component} until SIGTERM or SIGINT, then shuts it down gracefully.
SEXTANT_<KEY__PATH> environment variables override single keys of the file.

Options:
  -c, --config <file>  the YAML config (default: $SEXTANT_CONFIG)
  -h, --help           show this help
`;
}

/** `--config <file>` (or `-c`, or `$SEXTANT_CONFIG`); undefined after printing the help. */
function configPathOf(component: string, args: readonly string[], io: CliIo, required: boolean): string | null | undefined {
  let values: { config?: string | undefined; help?: boolean | undefined };
  try {
    ({ values } = parseArgs({ args: [...args], options: { config: { type: 'string', short: 'c' }, help: { type: 'boolean', short: 'h' } }, strict: true, allowPositionals: false }));
  } catch (err) {
    throw new CliError('SEXTANT_CLI_USAGE', `${(err as Error).message}\n${usageOf(component)}`);
  }
  if (values.help === true) {
    io.stdout(usageOf(component));
    return undefined;
  }
  const path = values.config ?? io.env['SEXTANT_CONFIG'];
  if (path === undefined || path === '') {
    if (required) throw new CliError('SEXTANT_CLI_USAGE', `no --config <file> given and SEXTANT_CONFIG is unset\n${usageOf(component)}`);
    return null;
  }
  return path;
}

function messageOf(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' && !err.message.startsWith(code) ? `${code}: ${err.message}` : err.message;
}

export const enrichmentCommand: Command = {
  summary: 'run the enrichment service (OTLP/HTTP from the node collectors → pod metadata → backend)',
  async run(args: readonly string[], io: CliIo): Promise<number> {
    // Validate the arguments here so that a usage error looks like every other sextant usage error.
    if (configPathOf('enrichment', args, io, false) === undefined) return 0;
    const { runEnrichment } = await import('@sextant/enrichment');
    return runEnrichment(args, io.env);
  },
};

export const traceReceiverCommand: Command = {
  summary: 'run the trace receiver (OTLP gRPC/HTTP from applications → pod metadata → backend)',
  async run(args: readonly string[], io: CliIo): Promise<number> {
    const path = configPathOf('trace-receiver', args, io, true);
    if (path === undefined || path === null) return 0;
    const { loadTraceReceiverConfigFile, runTraceReceiverMain } = await import('@sextant/trace-receiver');
    // runTraceReceiverMain answers 1 for every startup error; load the config first so that a rejected config
    // exits 2 like the other components (it is loaded again, identically, by runTraceReceiverMain).
    try {
      loadTraceReceiverConfigFile(path, io.env);
    } catch (err) {
      io.stderr(`${messageOf(err)}\n`);
      return 2;
    }
    return runTraceReceiverMain(['--config', path]);
  },
};

export const nodeCollectorCommand: Command = {
  summary: 'run the node collector (the DaemonSet agent: pod log files and node metrics → enrichment)',
  async run(args: readonly string[], io: CliIo): Promise<number> {
    const path = configPathOf('node-collector', args, io, false);
    if (path === undefined) return 0;
    const [{ loadConfig, createNodeCollector }, { pino }] = await Promise.all([import('@sextant/node-collector'), import('pino')]);
    let config;
    try {
      config = await loadConfig(path ?? undefined, io.env);
    } catch (err) {
      io.stderr(`${messageOf(err)}\n`);
      return 2;
    }
    // pino with a synchronous destination, as the collector's own main.ts does (see the startup note in its collector.ts).
    const log = pino({ name: 'node-collector', level: io.env['SEXTANT_LOG_LEVEL'] ?? 'info' }, pino.destination({ dest: 1, sync: true }));
    const collector = createNodeCollector(config, { logger: log });
    const stopped = new Promise<number>((resolve) => {
      let stopping = false;
      const stop = (signal: NodeJS.Signals): void => {
        if (stopping) return;
        stopping = true;
        log.info({ signal }, 'shutting down');
        collector.shutdown().then(
          () => resolve(0),
          (err: unknown) => {
            log.error({ err }, 'shutdown failed');
            resolve(1);
          },
        );
      };
      process.once('SIGTERM', stop);
      process.once('SIGINT', stop);
    });
    try {
      await collector.start();
    } catch (err) {
      io.stderr(`${messageOf(err)}\n`);
      await collector.shutdown().catch(() => undefined);
      return 1;
    }
    const addr = collector.statusAddress();
    // The same machine-readable line as the collector's main.ts, so that a parent process learns the status port.
    io.stdout(`${JSON.stringify({ msg: 'sextant-node-collector-ready', statusPort: addr?.port ?? null, uptimeMs: Math.round(process.uptime() * 1000) })}\n`);
    return stopped;
  },
};
