// Shared by the chart tests: render the chart with the real helm from @sextant/test-env and pick objects apart.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { REPO_ROOT, helm } from '@sextant/test-env';

export const CHART_DIR = join(REPO_ROOT, 'deploy', 'helm', 'sextant');

/** The scenario names, from deploy/helm/sextant/ci/<name>-values.yaml. */
export const SCENARIOS: readonly string[] = readdirSync(join(CHART_DIR, 'ci'))
  .filter((f) => f.endsWith('-values.yaml'))
  .map((f) => f.slice(0, -'-values.yaml'.length))
  .sort();

export function scenarioFile(name: string): string {
  return join(CHART_DIR, 'ci', `${name}-values.yaml`);
}

export interface Obj {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [key: string]: unknown;
}

export interface Container {
  name: string;
  args?: string[];
  env?: { name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } }[];
  ports?: { name: string; containerPort: number; protocol: string }[];
  volumeMounts?: { name: string; mountPath: string; readOnly?: boolean }[];
  securityContext?: Record<string, unknown>;
  readinessProbe?: { httpGet?: { scheme?: string } };
  livenessProbe?: { httpGet?: { scheme?: string } };
}

export interface PodSpec {
  serviceAccountName: string;
  automountServiceAccountToken?: boolean;
  hostNetwork?: boolean;
  hostPID?: boolean;
  hostIPC?: boolean;
  securityContext?: Record<string, unknown>;
  containers: Container[];
  volumes?: {
    name: string;
    hostPath?: { path: string; type?: string };
    secret?: { secretName: string };
    configMap?: { name: string };
    projected?: { sources?: { secret?: { name: string; items?: { key: string; path: string }[] } }[] };
  }[];
  tolerations?: Record<string, unknown>[];
  affinity?: Record<string, unknown>;
}

export interface PodTemplate {
  metadata: { labels: Record<string, string>; annotations?: Record<string, string> };
  spec: PodSpec;
}

export interface RenderResult {
  code: number;
  stderr: string;
  objects: Obj[];
}

/** `helm template <release> <chart> -n <namespace> -f <files...> [--set ...]`. */
export async function render(opts: { release?: string; namespace?: string; files?: string[]; set?: string[] } = {}): Promise<RenderResult> {
  const args = ['template', opts.release ?? 'sx', CHART_DIR, '--namespace', opts.namespace ?? 'sextant'];
  for (const f of opts.files ?? []) args.push('--values', f);
  for (const s of opts.set ?? []) args.push('--set', s);
  const r = await helm(args);
  const objects: Obj[] = [];
  if (r.code === 0) {
    for (const doc of parseAllDocuments(r.stdout)) {
      const v: unknown = doc.toJS();
      if (v !== null && typeof v === 'object') objects.push(v as Obj);
    }
  }
  return { code: r.code, stderr: r.stderr, objects };
}

const rendered = new Map<string, Promise<Obj[]>>();

/** Renders one scenario (once per file and release/namespace; callers must not modify the objects); throws when helm fails. */
export function renderScenario(name: string, opts: { release?: string; namespace?: string } = {}): Promise<Obj[]> {
  const key = `${name}|${opts.release ?? ''}|${opts.namespace ?? ''}`;
  let p = rendered.get(key);
  if (!p) {
    p = render({ ...opts, files: [scenarioFile(name)] }).then((r) => {
      if (r.code !== 0) throw new Error(`helm template of scenario ${name} failed: ${r.stderr}`);
      return r.objects;
    });
    rendered.set(key, p);
  }
  return p;
}

export function componentOf(o: { metadata: { labels?: Record<string, string> } }): string {
  return o.metadata.labels?.['app.kubernetes.io/component'] ?? '?';
}

const workloadKinds = ['DaemonSet', 'StatefulSet', 'Deployment'];

/** The pod template of each workload, by component. */
export function podTemplates(objects: readonly Obj[]): Map<string, { workload: Obj; template: PodTemplate }> {
  const out = new Map<string, { workload: Obj; template: PodTemplate }>();
  for (const o of objects) {
    if (!workloadKinds.includes(o.kind)) continue;
    out.set(componentOf(o), { workload: o, template: (o['spec'] as { template: PodTemplate }).template });
  }
  return out;
}

/** The object of a kind for a component (the first one), or undefined. */
export function find(objects: readonly Obj[], kind: string, component: string): Obj | undefined {
  return objects.find((o) => o.kind === kind && componentOf(o) === component);
}
