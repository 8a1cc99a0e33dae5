// `sextant networkpolicies`: the chart's NetworkPolicies for given values as plain manifests, for clusters
// where policies are applied separately (`kubectl apply -f`). networkpolicies/ in this repository is
// generated with it (deploy/scripts/gen-networkpolicies.sh) and a test checks it has not drifted.
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import { CliError } from './errors.ts';
import { chartArgOptions, renderChart, renderOptionsFromArgs } from './helm.ts';
import type { K8sObject } from './helm.ts';
import type { CliIo, Command } from './io.ts';

/** Labels that say "managed by Helm", which a plain manifest is not. */
const helmOnlyLabels = ['helm.sh/chart', 'app.kubernetes.io/managed-by'];

export interface PolicyFile {
  /** `<component>.yaml`, or `<component>-<feature>.yaml` for a policy of one optional feature (annotation sextant.io/feature). */
  readonly name: string;
  readonly content: string;
}

const header = '# Generated from the sextant Helm chart (deploy/helm/sextant) by `sextant networkpolicies`; do not edit.\n';

/**
 * One file per NetworkPolicy among the rendered objects, named by component (and feature), without Helm's own
 * labels. With `feature`, only the policies of that optional feature (annotation sextant.io/feature), which apply on
 * top of a pipeline's set.
 */
export function networkPolicyFiles(objects: readonly K8sObject[], feature?: string): PolicyFile[] {
  return objects
    .filter((o) => o.kind === 'NetworkPolicy' && (feature === undefined || o.metadata.annotations?.['sextant.io/feature'] === feature))
    .map((o) => {
      const labels = Object.fromEntries(Object.entries(o.metadata.labels ?? {}).filter(([k]) => !helmOnlyLabels.includes(k)));
      const plain = { ...o, metadata: { ...o.metadata, labels } };
      const component = labels['app.kubernetes.io/component'] ?? o.metadata.name;
      const own = o.metadata.annotations?.['sextant.io/feature'];
      return { name: own === undefined ? `${component}.yaml` : `${component}-${own}.yaml`, content: header + stringify(plain, { lineWidth: 0 }) };
    })
    .sort((a, b) => a.name.localeCompare(b.name));
}

const usage = `Usage: sextant networkpolicies [-f values.yaml]... [--chart DIR] [--release NAME] [--namespace NS] [--feature NAME] [--out DIR]

Renders the Sextant chart with helm and prints its NetworkPolicies as plain manifests, or writes one file
per component into --out DIR (replacing the .yaml files there). --feature NAME keeps only the policies of
that optional feature (e.g. audit-webhook), which apply on top of a pipeline's policies.
`;

export const networkPoliciesCommand: Command = {
  summary: "print or write the chart's NetworkPolicies as plain manifests",
  async run(args: readonly string[], io: CliIo): Promise<number> {
    let parsed;
    try {
      parsed = parseArgs({
        args: [...args],
        options: {
          ...chartArgOptions,
          out: { type: 'string' },
          feature: { type: 'string' },
        },
        allowPositionals: false,
      });
    } catch (err) {
      throw new CliError('SEXTANT_CLI_USAGE', `${(err as Error).message}\n${usage}`);
    }
    const v = parsed.values;
    if (v.help === true) {
      io.stdout(usage);
      return 0;
    }
    const opts = renderOptionsFromArgs(v, io.env);
    const files = networkPolicyFiles(await renderChart(opts), v.feature);
    if (v.feature !== undefined && files.length === 0) {
      throw new CliError('SEXTANT_CLI_USAGE', `--feature "${v.feature}": these values render no NetworkPolicy of that feature (is the feature on?)`);
    }
    if (v.out === undefined) {
      io.stdout(files.map((f) => f.content).join('---\n'));
      return 0;
    }
    await mkdir(v.out, { recursive: true });
    for (const old of await readdir(v.out)) if (old.endsWith('.yaml')) await rm(join(v.out, old));
    for (const f of files) await writeFile(join(v.out, f.name), f.content);
    io.stderr(`wrote ${files.length} NetworkPolicies to ${v.out}\n`);
    return 0;
  },
};
