// Renders the chart with the real helm binary (`helm template`); the CLI never re-implements templating.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { parseAllDocuments } from 'yaml';
import { CliError } from './errors.ts';

const execFileP = promisify(execFile);

export interface RenderOptions {
  /** Values files, applied in order (helm -f). */
  readonly valuesFiles?: readonly string[];
  /** Chart directory. Default: env SEXTANT_CHART, else deploy/helm/sextant of this repository. */
  readonly chart?: string;
  /** Default "sextant". */
  readonly release?: string;
  /** Default "sextant". */
  readonly namespace?: string;
  /** helm binary. Default: env SEXTANT_HELM, else `helm` on PATH. */
  readonly helm?: string;
  readonly env?: Readonly<Record<string, string | undefined>>;
}

/** A rendered Kubernetes object, as parsed from helm's output. */
export interface K8sObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: { readonly name: string; readonly namespace?: string; readonly labels?: Record<string, string>; readonly annotations?: Record<string, string> };
  readonly [key: string]: unknown;
}

const repoChart = fileURLToPath(new URL('../../../deploy/helm/sextant', import.meta.url));

/** The chart directory that `renderChart` uses for these options. */
/** parseArgs options shared by the commands that render the chart (`privileges`, `networkpolicies`). */
export const chartArgOptions = {
  values: { type: 'string', short: 'f', multiple: true },
  chart: { type: 'string' },
  release: { type: 'string' },
  namespace: { type: 'string', short: 'n' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** RenderOptions from the values of `chartArgOptions`. */
export function renderOptionsFromArgs(
  v: { values?: string[] | undefined; chart?: string | undefined; release?: string | undefined; namespace?: string | undefined },
  env: Readonly<Record<string, string | undefined>>,
): RenderOptions {
  return {
    valuesFiles: v.values ?? [],
    env,
    ...(v.chart !== undefined && { chart: v.chart }),
    ...(v.release !== undefined && { release: v.release }),
    ...(v.namespace !== undefined && { namespace: v.namespace }),
  };
}

export function chartDir(opts: Pick<RenderOptions, 'chart' | 'env'> = {}): string {
  const env = opts.env ?? process.env;
  const dir = opts.chart ?? env['SEXTANT_CHART'] ?? repoChart;
  if (!existsSync(`${dir}/Chart.yaml`)) {
    throw new CliError('SEXTANT_CLI_CHART_NOT_FOUND', `no Chart.yaml in "${dir}"; pass --chart DIR or set SEXTANT_CHART to the sextant chart directory`);
  }
  return dir;
}

/** Runs `helm template` and returns the rendered objects in helm's order. */
export async function renderChart(opts: RenderOptions = {}): Promise<K8sObject[]> {
  const env = opts.env ?? process.env;
  const helmBin = opts.helm ?? env['SEXTANT_HELM'] ?? 'helm';
  const args = ['template', opts.release ?? 'sextant', chartDir(opts), '--namespace', opts.namespace ?? 'sextant'];
  for (const f of opts.valuesFiles ?? []) args.push('--values', f);
  let stdout: string;
  try {
    ({ stdout } = await execFileP(helmBin, args, { maxBuffer: 64 * 1024 * 1024, env: { ...process.env, ...env } }));
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    if (e.code === 'ENOENT') {
      throw new CliError('SEXTANT_CLI_HELM_NOT_FOUND', `cannot run "${helmBin}"; install helm v3.8+ or set SEXTANT_HELM to its path`, { cause: err });
    }
    throw new CliError('SEXTANT_CLI_HELM_FAILED', `helm ${args.join(' ')} failed: ${(e.stderr ?? e.message).trim()}`, { cause: err });
  }
  const out: K8sObject[] = [];
  for (const doc of parseAllDocuments(stdout)) {
    const value: unknown = doc.toJS();
    if (value !== null && typeof value === 'object') out.push(value as K8sObject);
  }
  return out;
}
