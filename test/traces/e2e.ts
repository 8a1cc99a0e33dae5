// Shared setup of the trace receiver acceptance tests: a real kube-apiserver with the demo
// app's pods, a real OTel Collector as the backend, the demo app as a child process.
import { execFile } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CoreV1Api } from '@kubernetes/client-node';
import type { V1Pod, V1PodStatus } from '@kubernetes/client-node';
import type { Cluster, OtlpJsonLine } from '@sextant/test-env';

const APP_DIR = join(dirname(fileURLToPath(import.meta.url)), 'app');
const NODE = process.execPath;

/** A pod the API server knows, with status.podIP set (no kubelet runs, so the test sets it). */
async function createRunningPod(
  cluster: Cluster,
  ns: string,
  name: string,
  ip: string,
  opts: { hostNetwork?: boolean; labels?: Record<string, string>; annotations?: Record<string, string>; nodeName?: string } = {},
): Promise<V1Pod> {
  const api = cluster.adminClient.makeApiClient(CoreV1Api);
  const created = await api.createNamespacedPod({
    namespace: ns,
    body: {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name,
        namespace: ns,
        labels: { 'app.kubernetes.io/name': name, ...opts.labels },
        ...(opts.annotations === undefined ? {} : { annotations: opts.annotations }),
      },
      spec: {
        nodeName: opts.nodeName ?? 'node-1',
        hostNetwork: opts.hostNetwork === true,
        containers: [{ name: 'app', image: `registry.example/${name}:2.1.0` }],
      },
    },
  });
  const status: V1PodStatus = {
    phase: 'Running',
    podIP: ip,
    podIPs: [{ ip }],
    hostIP: '10.0.0.1',
    startTime: new Date(),
    conditions: [{ type: 'Ready', status: 'True' }],
  };
  return api.replaceNamespacedPodStatus({ namespace: ns, name, body: { ...created, status } });
}

interface AppSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string | undefined;
  name: string;
  attributes: Record<string, string | number | boolean>;
  events: string[];
  links: Array<{ traceId: string; spanId: string }>;
}

interface AppRun {
  code: number;
  spans: AppSpan[];
  stderr: string;
}

/** Runs test/traces/app/app.ts once; resolves when it exits. */
function runApp(env: Record<string, string>): Promise<AppRun> {
  const args = env['SEXTANT_APP_SOURCE_ADDRESS'] !== undefined ? ['--import', join(APP_DIR, 'bind-source.ts'), join(APP_DIR, 'app.ts')] : [join(APP_DIR, 'app.ts')];
  return new Promise((resolve) => {
    execFile(NODE, args, { env: { PATH: process.env['PATH'] ?? '', OTEL_SERVICE_NAME: 'checkout', ...env }, timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : -1;
      const spans = stdout
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as AppSpan);
      resolve({ code, spans, stderr });
    });
  });
}

interface JsonKv {
  key: string;
  value: Record<string, unknown>;
}
interface JsonSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  attributes?: JsonKv[];
  events?: Array<{ name: string }>;
  links?: Array<{ traceId: string; spanId: string }>;
}
interface ReceivedSpan {
  resource: Record<string, string>;
  span: JsonSpan;
}

function plain(v: Record<string, unknown>): string | number | boolean {
  if ('stringValue' in v) return v['stringValue'] as string;
  if ('intValue' in v) return Number(v['intValue']);
  if ('doubleValue' in v) return v['doubleValue'] as number;
  if ('boolValue' in v) return v['boolValue'] as boolean;
  return JSON.stringify(v);
}

/** Every span in the collector's output with its resource attributes. */
function spansOf(lines: readonly OtlpJsonLine[]): ReceivedSpan[] {
  const out: ReceivedSpan[] = [];
  for (const line of lines) {
    for (const rs of (line.resourceSpans ?? []) as Array<{ resource?: { attributes?: JsonKv[] }; scopeSpans?: Array<{ spans?: JsonSpan[] }> }>) {
      const resource: Record<string, string> = {};
      for (const kv of rs.resource?.attributes ?? []) resource[kv.key] = String(plain(kv.value));
      for (const ss of rs.scopeSpans ?? []) for (const span of ss.spans ?? []) out.push({ resource, span });
    }
  }
  return out;
}

function attrsOf(span: JsonSpan): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  for (const kv of span.attributes ?? []) out[kv.key] = plain(kv.value);
  return out;
}

export { attrsOf, createRunningPod, runApp, spansOf };
export type { AppRun, AppSpan, ReceivedSpan };
