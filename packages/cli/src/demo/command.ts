// `sextant demo [--duration <s>] [--rate <lines/s>] [--out <dir>]` (issue 9).
import { mkdtemp, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { CliError } from '../errors.ts';
import type { CliIo, Command } from '../io.ts';
import { runDemo } from './run.ts';

const usage = `Usage: sextant demo [--duration <seconds>] [--rate <lines/s>] [--out <dir>]

Runs the whole Sextant pipeline on this machine, with no cluster: the node-collector, enrichment and
trace-receiver each run as their own process on loopback ports. The demo writes container logs the
way kubelet does (and rotates them), serves pod metadata from a bundled file of Kubernetes objects,
runs an app instrumented with the OpenTelemetry Node SDK that sends traces over OTLP gRPC, and writes
everything the pipeline delivers as OTLP/JSON lines. A summary is printed every second; at the end,
one enriched log record and one enriched span.

Options:
  --duration <seconds>  stop after this many seconds (default: run until Ctrl-C)
  --rate <lines/s>      container log records written per second, over all demo pods (default 200)
  --out <dir>           where the output, logs, queue and checkpoints go; must be empty or absent
                        (default: a new directory under ${tmpdir()})
  -h, --help            show this help

Ctrl-C (or SIGTERM) stops the sources first, lets the collector ship every line and enrichment
drain its queue, stops the components in that order, and prints where the output is.
`;

function positive(name: string, v: string | undefined, def: number | undefined): number | undefined {
  if (v === undefined) return def;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new CliError('SEXTANT_CLI_USAGE', `--${name} ${JSON.stringify(v)}: must be a number greater than 0\n${usage}`);
  return n;
}

export const demoCommand: Command = {
  summary: 'run the whole pipeline locally, with no cluster (logs, metrics, traces → OTLP/JSON files)',
  async run(args: readonly string[], io: CliIo): Promise<number> {
    let values: { duration?: string; rate?: string; out?: string; help?: boolean };
    try {
      ({ values } = parseArgs({
        args: [...args],
        options: { duration: { type: 'string' }, rate: { type: 'string' }, out: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
        strict: true,
        allowPositionals: false,
      }));
    } catch (err) {
      throw new CliError('SEXTANT_CLI_USAGE', `${(err as Error).message}\n${usage}`);
    }
    if (values.help === true) {
      io.stdout(usage);
      return 0;
    }
    const durationS = positive('duration', values.duration, undefined);
    const rate = positive('rate', values.rate, 200) ?? 200;
    let out: string;
    if (values.out === undefined) {
      out = await mkdtemp(join(tmpdir(), 'sextant-demo-'));
    } else {
      out = resolve(values.out);
      const existing = await readdir(out).catch(() => []);
      if (existing.length > 0) throw new CliError('SEXTANT_CLI_USAGE', `--out ${JSON.stringify(values.out)}: the directory is not empty; give a new or empty directory\n${usage}`);
    }
    return runDemo({ durationS, rate, out, stdout: io.stdout, stderr: io.stderr, tty: process.stdout.isTTY });
  },
};
