// Entry point: `node packages/node-collector/src/main.ts [config.yaml]` (or env SEXTANT_CONFIG).
// SIGTERM/SIGINT shut down gracefully: flush, wait for acks, persist checkpoints.
import { pino } from 'pino';
import { loadConfig } from './config.ts';
import { createNodeCollector } from './collector.ts';

async function main(): Promise<void> {
  // pino directly rather than @sextant/pipeline's createLogger: see the startup note in collector.ts
  const log = pino({ name: 'node-collector', level: process.env['SEXTANT_LOG_LEVEL'] ?? 'info' }, pino.destination({ dest: 1, sync: true }));
  const config = await loadConfig(process.argv[2] ?? process.env['SEXTANT_CONFIG']);
  const collector = createNodeCollector(config, { logger: log });
  let stopping = false;
  // The collector's own timers and watchers are unref'd (so a library user can exit); the daemon
  // must not exit when idle, e.g. with the status server off and no file yet.
  const keepAlive = setInterval(() => undefined, 1 << 30);
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    clearInterval(keepAlive);
    log.info({ signal }, 'shutting down');
    collector.shutdown().then(
      () => process.exit(0),
      (e: unknown) => {
        log.error({ err: e }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  await collector.start();
  const addr = collector.statusAddress();
  // one machine-readable line so that a parent process (tests, the CLI) learns the status port
  process.stdout.write(`${JSON.stringify({ msg: 'sextant-node-collector-ready', statusPort: addr?.port ?? null, uptimeMs: Math.round(process.uptime() * 1000) })}\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? `${(e as { code?: string }).code ?? ''} ${e.message}` : String(e)}\n`);
  process.exit(1);
});
