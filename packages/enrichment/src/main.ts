// Process entry: `node packages/enrichment/src/main.ts [--config path]`, and what the
// `sextant enrichment` subcommand calls (runEnrichment). Runs until SIGTERM/SIGINT, then
// shuts down gracefully: stop accepting, finish requests in flight, close the queue.
import { parseArgs } from 'node:util';
import { setFlagsFromString } from 'node:v8';
import { createLogger } from '@sextant/pipeline';
import { loadEnrichmentConfig } from './config.ts';
import { createEnrichmentService } from './create.ts';
import { EnrichmentError } from './errors.ts';

const USAGE = 'usage: sextant enrichment [--config <file.yaml>]   (SEXTANT_<KEY__PATH> environment variables override single keys)';

/**
 * Loads the config (`--config path`, else SEXTANT_CONFIG, else defaults + env),
 * runs the service and resolves with the process exit code once a signal stopped it.
 */
async function runEnrichment(argv: readonly string[] = process.argv.slice(2), env: NodeJS.ProcessEnv = process.env): Promise<number> {
  let configPath: string | undefined;
  try {
    const { values } = parseArgs({ args: [...argv], options: { config: { type: 'string', short: 'c' }, help: { type: 'boolean', short: 'h' } }, strict: true });
    if (values.help === true) {
      process.stdout.write(`${USAGE}\n`);
      return 0;
    }
    configPath = values.config ?? env['SEXTANT_CONFIG'];
  } catch (err) {
    process.stderr.write(`${new EnrichmentError('SEXTANT_ENRICHMENT_USAGE', `${(err as Error).message}\n${USAGE}`).message}\n`);
    return 2;
  }
  let config;
  try {
    config = loadEnrichmentConfig({ file: configPath, env });
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    return 2;
  }
  // Each request is a few large Buffers (body, inflated frames, queue parts), and by default V8
  // starts a full mark-compact for every ~64 MiB of Buffers allocated, whatever the heap holds:
  // under load the GC threads were 36-40% of the service's CPU (bench/README.md "enrichment").
  // With this flag external memory counts toward the heap's own growing limit instead. V8 reads it
  // when it next sizes its limits, so setting it before the service allocates is enough.
  // Process-wide: only the process entry does it, never createEnrichmentService.
  if (config.runtime.externalMemoryInHeapLimit) setFlagsFromString('--external-memory-accounted-in-global-limit');
  const logger = createLogger({ level: config.log.level, name: 'enrichment' });
  const service = createEnrichmentService(config, { logger });
  let stopping: Promise<void> | undefined;
  const stopped = new Promise<number>((resolve) => {
    const onSignal = (sig: NodeJS.Signals): void => {
      if (stopping !== undefined) return;
      logger.info({ signal: sig }, 'shutting down');
      stopping = service.shutdown();
      stopping.then(
        () => resolve(0),
        (err: unknown) => {
          logger.error({ err }, 'shutdown failed');
          resolve(1);
        },
      );
    };
    process.once('SIGTERM', onSignal);
    process.once('SIGINT', onSignal);
  });
  try {
    await service.start();
  } catch (err) {
    logger.fatal({ err }, 'enrichment service failed to start');
    await service.shutdown().catch(() => {});
    return 1;
  }
  return stopped;
}

if (import.meta.main) {
  process.exitCode = await runEnrichment();
}

export { runEnrichment };
