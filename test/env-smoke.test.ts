// Smoke test of the test environment itself: every tool in @sextant/test-env does the real
// thing (API server with RBAC/PodSecurity/tokens, helm, Cyclonus, the OTel Collector).
import { execFile } from 'node:child_process';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parse as parseYaml } from 'yaml';
import { after, before, suite, test } from 'node:test';
import type { TestContext } from 'node:test';
import { ApiException, CoreV1Api, KubeConfig, RbacAuthorizationV1Api, makeInformer } from '@kubernetes/client-node';
import type { V1Pod } from '@kubernetes/client-node';
import { Client, credentials } from '@grpc/grpc-js';
import { analyzeNetworkPolicies, helm, otelcolBin, startCluster, startOtelCollector } from '@sextant/test-env';
import type { Cluster } from '@sextant/test-env';

/** Runs `fn`, expecting it to fail with an HTTP error from the API server; returns that error. */
async function apiError(fn: () => Promise<unknown>): Promise<ApiException<unknown>> {
  try {
    await fn();
  } catch (err) {
    if (err instanceof ApiException) return err as ApiException<unknown>;
    throw err;
  }
  throw new Error('expected the API server to refuse the request, but it succeeded');
}

/** The `message` of the API server's Status answer. */
function bodyText(err: ApiException<unknown>): string {
  const body: unknown = typeof err.body === 'string' ? JSON.parse(err.body) : err.body;
  const message = (body as { message?: unknown } | null)?.message;
  if (typeof message !== 'string') throw new Error(`no Status message in ${JSON.stringify(err.body)}`);
  return message;
}

function pod(name: string, extra: Partial<V1Pod['spec']> = {}, labels: Record<string, string> = {}): V1Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, labels },
    spec: { containers: [{ name: 'main', image: 'registry.example/app:1' }], ...extra },
  };
}

void suite('test-env: kube-apiserver + etcd', () => {
  let cluster: Cluster;
  before(async () => {
    cluster = await startCluster();
  });
  after(async () => {
    await cluster.stop();
  });

  void test('a Pod is created, watched through an informer (add, update, delete) and deleted', async (t: TestContext) => {
    const core = cluster.adminClient.makeApiClient(CoreV1Api);
    const ns = 'smoke-informer';
    await cluster.createNamespace(ns);
    const informer = makeInformer(cluster.adminClient, `/api/v1/namespaces/${ns}/pods`, () => core.listNamespacedPod({ namespace: ns }));
    const seen: string[] = [];
    const waiters: { verb: string; resolve: () => void }[] = [];
    const record = (verb: string) => (obj: V1Pod) => {
      const deleting = obj.metadata?.deletionTimestamp ? ':deleting' : '';
      seen.push(`${verb}:${obj.metadata?.name ?? '?'}:${obj.metadata?.labels?.['stage'] ?? ''}${deleting}`);
      for (const w of waiters.filter((x) => x.verb === verb)) w.resolve();
    };
    const next = (verb: string): Promise<void> =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no ${verb} event within 20 s; saw ${seen.join(', ')}`)), 20_000);
        waiters.push({
          verb,
          resolve: () => {
            clearTimeout(timer);
            resolve();
          },
        });
      });
    informer.on('add', record('add'));
    informer.on('update', record('update'));
    informer.on('delete', record('delete'));
    await informer.start();
    t.after(() => informer.stop());

    const added = next('add');
    await core.createNamespacedPod({ namespace: ns, body: pod('watched', {}, { stage: 'created' }) });
    await added;

    const updated = next('update');
    const current = await core.readNamespacedPod({ name: 'watched', namespace: ns });
    current.metadata = { ...current.metadata, labels: { stage: 'relabelled' } };
    await core.replaceNamespacedPod({ name: 'watched', namespace: ns, body: current });
    await updated;

    const deleted = next('delete');
    // No kubelet: an unscheduled Pod is removed without waiting for its grace period.
    await core.deleteNamespacedPod({ name: 'watched', namespace: ns });
    await deleted;

    // Graceful deletion first stamps deletionTimestamp (an update), then removes the Pod.
    t.assert.deepStrictEqual(seen, ['add:watched:created', 'update:watched:relabelled', 'update:watched:relabelled:deleting', 'delete:watched:relabelled:deleting']);
    const left = await core.listNamespacedPod({ namespace: ns });
    t.assert.strictEqual(left.items.length, 0);
  });

  void test('a ServiceAccount token gets 403 for what RBAC did not grant and 200 for what a Role granted', async (t: TestContext) => {
    const ns = 'smoke-rbac';
    await cluster.createNamespace(ns);
    const core = cluster.adminClient.makeApiClient(CoreV1Api);
    const rbac = cluster.adminClient.makeApiClient(RbacAuthorizationV1Api);
    await core.createNamespacedServiceAccount({ namespace: ns, body: { metadata: { name: 'reader' } } });
    await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'settings' }, data: { a: '1' } } });
    await rbac.createNamespacedRole({
      namespace: ns,
      body: { metadata: { name: 'read-configmaps' }, rules: [{ apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'list', 'watch'] }] },
    });
    await rbac.createNamespacedRoleBinding({
      namespace: ns,
      body: {
        metadata: { name: 'reader-reads-configmaps' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'read-configmaps' },
        subjects: [{ kind: 'ServiceAccount', name: 'reader', namespace: ns }],
      },
    });

    const token = await cluster.tokenFor(ns, 'reader');
    t.assert.strictEqual(token.split('.').length, 3, 'a TokenRequest token is a JWT');
    const asReader = new KubeConfig();
    asReader.loadFromFile(cluster.kubeconfigFor(token));
    const readerCore = asReader.makeApiClient(CoreV1Api);

    const denied = await apiError(() => readerCore.listNamespacedSecret({ namespace: ns }));
    t.assert.strictEqual(denied.code, 403);
    t.assert.match(bodyText(denied), /system:serviceaccount:smoke-rbac:reader.*cannot list resource "secrets"/);

    const configMaps = await readerCore.listNamespacedConfigMap({ namespace: ns });
    // No controller-manager, so no kube-root-ca.crt ConfigMap: only ours.
    t.assert.deepStrictEqual(
      configMaps.items.map((c) => c.metadata?.name),
      ['settings'],
    );

    const otherNs = await apiError(() => readerCore.listNamespacedConfigMap({ namespace: 'smoke-informer' }));
    t.assert.strictEqual(otherNs.code, 403, 'a Role grants nothing outside its namespace');
  });

  void test('PodSecurity "restricted" refuses a hostPath/privileged Pod and admits a hardened one', async (t: TestContext) => {
    const ns = 'smoke-restricted';
    await cluster.createNamespace(ns, { 'pod-security.kubernetes.io/enforce': 'restricted' });
    const core = cluster.adminClient.makeApiClient(CoreV1Api);

    const refused = await apiError(() =>
      core.createNamespacedPod({
        namespace: ns,
        body: {
          metadata: { name: 'bad' },
          spec: {
            containers: [{ name: 'main', image: 'registry.example/app:1', securityContext: { privileged: true }, volumeMounts: [{ name: 'logs', mountPath: '/var/log' }] }],
            volumes: [{ name: 'logs', hostPath: { path: '/var/log' } }],
          },
        },
      }),
    );
    t.assert.strictEqual(refused.code, 403);
    const msg = bodyText(refused);
    t.assert.match(msg, /violates PodSecurity "restricted:latest"/);
    t.assert.match(msg, /privileged/);
    t.assert.match(msg, /hostPath/);

    const admitted = await core.createNamespacedPod({
      namespace: ns,
      body: pod('hardened', {
        securityContext: { runAsNonRoot: true, runAsUser: 65532, seccompProfile: { type: 'RuntimeDefault' } },
        containers: [
          {
            name: 'main',
            image: 'registry.example/app:1',
            securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } },
          },
        ],
      }),
    });
    t.assert.strictEqual(admitted.metadata?.name, 'hardened');
    t.assert.ok(admitted.metadata?.uid, 'the API server stored it');
  });

  void test('helm lints, renders and installs a chart into the API server', async (t: TestContext) => {
    const dir = await mkdtemp(join(tmpdir(), 'sextant-smoke-chart-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const chart = join(dir, 'smoke');
    await mkdir(join(chart, 'templates'), { recursive: true });
    await writeFile(join(chart, 'Chart.yaml'), 'apiVersion: v2\nname: smoke\ndescription: throwaway chart\nversion: 0.1.0\nappVersion: "1.0"\n');
    await writeFile(join(chart, 'values.yaml'), '# Greeting stored in the ConfigMap.\ngreeting: hello\n# Replicas of the Deployment.\nreplicas: 1\n');
    await writeFile(
      join(chart, 'templates', 'resources.yaml'),
      [
        'apiVersion: v1',
        'kind: ConfigMap',
        'metadata:',
        '  name: {{ .Release.Name }}-config',
        'data:',
        '  greeting: {{ .Values.greeting | quote }}',
        '---',
        'apiVersion: apps/v1',
        'kind: Deployment',
        'metadata:',
        '  name: {{ .Release.Name }}-app',
        'spec:',
        '  replicas: {{ .Values.replicas }}',
        '  selector:',
        '    matchLabels: { app: {{ .Release.Name }} }',
        '  template:',
        '    metadata:',
        '      labels: { app: {{ .Release.Name }} }',
        '    spec:',
        '      containers:',
        '        - name: main',
        '          image: registry.example/app:1',
        '---',
        'apiVersion: v1',
        'kind: Service',
        'metadata:',
        '  name: {{ .Release.Name }}-svc',
        'spec:',
        '  selector: { app: {{ .Release.Name }} }',
        '  ports: [{ port: 80, targetPort: 8080 }]',
        '',
      ].join('\n'),
    );

    const lint = await helm(['lint', chart]);
    t.assert.strictEqual(lint.code, 0, lint.stderr + lint.stdout);
    t.assert.match(lint.stdout, /1 chart\(s\) linted, 0 chart\(s\) failed/);

    const rendered = await helm(['template', 'demo', chart, '--set', 'greeting=hi there']);
    t.assert.strictEqual(rendered.code, 0, rendered.stderr);
    t.assert.match(rendered.stdout, /name: demo-config/);
    t.assert.match(rendered.stdout, /greeting: "hi there"/);
    t.assert.match(rendered.stdout, /kind: Deployment/);

    const ns = 'smoke-helm';
    await cluster.createNamespace(ns);
    const install = await helm(['install', 'demo', chart, '--namespace', ns], { kubeconfig: cluster.kubeconfigPath });
    t.assert.strictEqual(install.code, 0, install.stderr);
    t.assert.match(install.stdout, /STATUS: deployed/);

    const list = await helm(['list', '--namespace', ns, '--output', 'json'], { kubeconfig: cluster.kubeconfigPath });
    t.assert.strictEqual(list.code, 0, list.stderr);
    const releases = JSON.parse(list.stdout) as { name: string; status: string; chart: string }[];
    t.assert.deepStrictEqual(
      releases.map((r) => [r.name, r.status, r.chart]),
      [['demo', 'deployed', 'smoke-0.1.0']],
    );
    const cm = await cluster.adminClient.makeApiClient(CoreV1Api).readNamespacedConfigMap({ name: 'demo-config', namespace: ns });
    t.assert.strictEqual(cm.data?.['greeting'], 'hello');
  });
});

void test('Cyclonus: one NetworkPolicy on two pods allows and denies the expected connections', async (t: TestContext) => {
  const ns = { namespace: 'shop', namespaceLabels: { 'kubernetes.io/metadata.name': 'shop' } };
  const client = { ...ns, podLabels: { app: 'client' } };
  const server = { ...ns, podLabels: { app: 'server' } };
  const policy = {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { name: 'server-ingress', namespace: 'shop' },
    spec: {
      podSelector: { matchLabels: { app: 'server' } },
      policyTypes: ['Ingress'],
      ingress: [{ from: [{ podSelector: { matchLabels: { app: 'client' } } }], ports: [{ protocol: 'TCP', port: 8080 }] }],
    },
  };
  const verdicts = await analyzeNetworkPolicies({
    policies: [policy],
    connections: [
      { name: 'client->server:8080', source: client, destination: server, port: 8080, protocol: 'TCP' },
      { name: 'client->server:9090', source: client, destination: server, port: 9090, protocol: 'TCP' },
      { name: 'client->server:8080/udp', source: client, destination: server, port: 8080, protocol: 'UDP' },
      { name: 'server->client:8080', source: server, destination: client, port: 8080, protocol: 'TCP' },
      { name: 'client->external:443', source: client, destination: { ip: '203.0.113.7' }, port: 443, protocol: 'TCP' },
    ],
  });
  t.assert.deepStrictEqual(verdicts, [
    { name: 'client->server:8080', allowed: true, ingress: true, egress: true },
    { name: 'client->server:9090', allowed: false, ingress: false, egress: true },
    { name: 'client->server:8080/udp', allowed: false, ingress: false, egress: true },
    { name: 'server->client:8080', allowed: true, ingress: true, egress: true },
    { name: 'client->external:443', allowed: true, ingress: true, egress: true },
  ]);
});

// --- OTLP protobuf, by hand: just enough of ExportLogsServiceRequest for one log record.
// Field numbers from opentelemetry-proto logs/v1 and common/v1.
function varint(n: number): Buffer {
  const out: number[] = [];
  let v = n;
  while (v > 0x7f) {
    out.push((v & 0x7f) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return Buffer.from(out);
}
function lenField(field: number, payload: Buffer): Buffer {
  return Buffer.concat([varint((field << 3) | 2), varint(payload.length), payload]);
}
function stringValue(s: string): Buffer {
  return lenField(1, Buffer.from(s, 'utf8')); // AnyValue.string_value = 1
}
function logsRequest(serviceName: string, body: string): Buffer {
  const time = Buffer.alloc(9);
  time[0] = (1 << 3) | 1; // LogRecord.time_unix_nano = 1, fixed64
  time.writeBigUInt64LE(BigInt(Date.now()) * 1_000_000n, 1);
  const logRecord = Buffer.concat([time, lenField(5, stringValue(body))]); // body = 5
  const scopeLogs = lenField(2, logRecord); // ScopeLogs.log_records = 2
  const attr = Buffer.concat([lenField(1, Buffer.from('service.name')), lenField(2, stringValue(serviceName))]); // KeyValue key=1 value=2
  const resource = lenField(1, attr); // Resource.attributes = 1
  const resourceLogs = Buffer.concat([lenField(1, resource), lenField(2, scopeLogs)]); // ResourceLogs.resource=1, scope_logs=2
  return lenField(1, resourceLogs); // ExportLogsServiceRequest.resource_logs = 1
}

interface LogsJson {
  resourceLogs?: { scopeLogs?: { logRecords?: { body?: { stringValue?: string } }[] }[] }[];
}
function bodies(lines: readonly unknown[]): string[] {
  return lines.flatMap((l) =>
    ((l as LogsJson).resourceLogs ?? []).flatMap((rl) => (rl.scopeLogs ?? []).flatMap((sl) => (sl.logRecords ?? []).map((r) => r.body?.stringValue ?? ''))),
  );
}

void test('OTel Collector receives OTLP logs over HTTP and gRPC and writes both to its file output', async (t: TestContext) => {
  const collector = await startOtelCollector();
  t.after(() => collector.stop());

  const res = await fetch(`${collector.httpEndpoint}/v1/logs`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      resourceLogs: [
        {
          resource: { attributes: [{ key: 'service.name', value: { stringValue: 'smoke-http' } }] },
          scopeLogs: [{ logRecords: [{ timeUnixNano: String(Date.now() * 1e6), body: { stringValue: 'hello over http' } }] }],
        },
      ],
    }),
  });
  t.assert.strictEqual(res.status, 200, await res.clone().text());
  await res.arrayBuffer();

  const grpcClient = new Client(collector.grpcEndpoint, credentials.createInsecure());
  t.after(() => grpcClient.close());
  const reply = await new Promise<Buffer>((resolve, reject) => {
    grpcClient.makeUnaryRequest<Buffer, Buffer>(
      '/opentelemetry.proto.collector.logs.v1.LogsService/Export',
      (b) => b,
      (b) => b,
      logsRequest('smoke-grpc', 'hello over grpc'),
      (err, value) => (err ? reject(err) : resolve(value ?? Buffer.alloc(0))),
    );
  });
  t.assert.ok(Buffer.isBuffer(reply), 'the collector answered the Export call');

  const lines = await collector.waitFor((ls) => {
    const b = bodies(ls);
    return b.includes('hello over http') && b.includes('hello over grpc');
  });
  t.assert.deepStrictEqual(bodies(lines).sort(), ['hello over grpc', 'hello over http']);
});

void test('the built collector has exactly the components of the test-env manifest', async (t: TestContext) => {
  const { stdout } = await promisify(execFile)(await otelcolBin(), ['components']);
  const components = parseYaml(stdout) as Record<string, { name: string }[] | null>;
  const names = (section: string): string[] => (components[section] ?? []).map((c) => c.name).sort();
  t.assert.deepStrictEqual(names('receivers'), ['file_log', 'otlp']);
  t.assert.deepStrictEqual(names('processors'), ['batch', 'k8s_attributes']);
  t.assert.deepStrictEqual(names('exporters'), ['debug', 'file', 'otlp_grpc', 'otlp_http']);
});
