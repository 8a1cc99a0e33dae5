// NetworkPolicies: Cyclonus (the real analyzer, from @sextant/test-env) judges every probed connection of each
// scenario's rendered policies, and the verdicts must equal the intended flows exactly, DNS included.
// Also: networkpolicies/ at the repository root equals what the chart renders.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite, test } from 'node:test';
import type { TestContext } from 'node:test';
import { promisify } from 'node:util';
import { REPO_ROOT, analyzeNetworkPolicies, helmBin } from '@sextant/test-env';
import type { Connection, ExternalPeer, PodPeer } from '@sextant/test-env';
import { parse as parseYaml } from 'yaml';
import { SCENARIOS, podTemplates, renderScenario } from './chart.ts';

const execFileP = promisify(execFile);

const RELEASE_NS = 'sextant';

interface Endpoint {
  readonly name: string;
  readonly peer: PodPeer | ExternalPeer;
}

const ns = (name: string, extra: Record<string, string> = {}): Record<string, string> => ({ 'kubernetes.io/metadata.name': name, ...extra });
const pod = (name: string, namespace: string, podLabels: Record<string, string>, nsExtra: Record<string, string> = {}): Endpoint => ({
  name,
  peer: { namespace, namespaceLabels: ns(namespace, nsExtra), podLabels },
});

/** Probe peers that are not Sextant: an app, Prometheus, a stranger next to Sextant, kube-dns, and outside addresses. */
const OTHERS: readonly Endpoint[] = [
  pod('app', 'shop', { app: 'shop' }, { 'sextant.io/traces': 'true' }),
  pod('prometheus', 'monitoring', { 'app.kubernetes.io/name': 'prometheus' }),
  pod('stranger', RELEASE_NS, { app: 'stranger' }),
  pod('kube-dns', 'kube-system', { 'k8s-app': 'kube-dns' }),
  { name: 'api-server', peer: { ip: '192.0.2.10' } },
  { name: 'backend', peer: { ip: '198.51.100.20' } },
  { name: 'node', peer: { ip: '10.0.0.5' } },
  { name: 'internet', peer: { ip: '203.0.113.7' } },
];
const PORTS: readonly { port: number; protocol: 'TCP' | 'UDP' }[] = [
  { port: 53, protocol: 'UDP' },
  ...[53, 443, 2020, 4317, 4318, 6443, 8888, 10250, 24321, 24322].map((port) => ({ port, protocol: 'TCP' as const })),
];

interface Flags {
  readonly netpol: boolean;
  readonly kubelet: boolean;
  readonly grpc: boolean;
  readonly http: boolean;
  /** Who may send traces: any pod in the cluster, or only pods in namespaces labelled sextant.io/traces=true. */
  readonly tracesFrom: 'any-pod' | 'labelled-ns';
  /** The audit webhook: the API server's address (and nothing else) may reach enrichment on 24322. */
  readonly auditWebhook?: boolean;
}

const FLAGS: Record<string, Flags> = {
  'all-off-except-traces': { netpol: true, kubelet: false, grpc: false, http: true, tracesFrom: 'any-pod' },
  'all-on': { netpol: true, kubelet: true, grpc: true, http: true, tracesFrom: 'any-pod' },
  'audit-file': { netpol: true, kubelet: false, grpc: true, http: true, tracesFrom: 'any-pod' },
  'audit-webhook': { netpol: true, kubelet: false, grpc: false, http: false, tracesFrom: 'any-pod', auditWebhook: true },
  'collector-nonroot': { netpol: true, kubelet: false, grpc: true, http: true, tracesFrom: 'any-pod' },
  'collector-root': { netpol: true, kubelet: false, grpc: true, http: true, tracesFrom: 'any-pod' },
  'custom-ca': { netpol: true, kubelet: false, grpc: true, http: true, tracesFrom: 'any-pod' },
  'journald-nonroot': { netpol: true, kubelet: false, grpc: true, http: true, tracesFrom: 'any-pod' },
  'journald-root': { netpol: true, kubelet: false, grpc: false, http: false, tracesFrom: 'any-pod' },
  'logs-only': { netpol: true, kubelet: false, grpc: false, http: false, tracesFrom: 'any-pod' },
  'metadata-rules': { netpol: true, kubelet: false, grpc: true, http: true, tracesFrom: 'any-pod' },
  'metrics-only': { netpol: true, kubelet: true, grpc: false, http: false, tracesFrom: 'any-pod' },
  mtls: { netpol: true, kubelet: false, grpc: true, http: true, tracesFrom: 'any-pod' },
  'netpol-off': { netpol: false, kubelet: false, grpc: true, http: true, tracesFrom: 'any-pod' },
  'splunk-hec': { netpol: true, kubelet: false, grpc: false, http: false, tracesFrom: 'any-pod' },
  'traces-only': { netpol: true, kubelet: false, grpc: true, http: true, tracesFrom: 'labelled-ns' },
};

/** The intended flows, written from the security model (ARCHITECTURE.md) rather than read from the chart. */
function intended(f: Flags, src: string, dst: string, port: number, protocol: string): boolean {
  if (!f.netpol) return true;
  const tcp = protocol === 'TCP';
  const dns = dst === 'kube-dns' && port === 53;
  let egress = true;
  if (src === 'node-collector') egress = (dst === 'enrichment' && tcp && port === 24321) || dns || (f.kubelet && dst === 'node' && tcp && port === 10250);
  if (src === 'enrichment' || src === 'trace-receiver') egress = (dst === 'api-server' && tcp && port === 6443) || (dst === 'backend' && tcp && port === 443) || dns;
  let ingress = true;
  if (dst === 'node-collector') ingress = src === 'prometheus' && tcp && port === 2020;
  if (dst === 'enrichment') {
    ingress = ((src === 'node-collector' || src === 'prometheus') && tcp && port === 24321) || (f.auditWebhook === true && src === 'api-server' && tcp && port === 24322);
  }
  if (dst === 'trace-receiver') {
    const isPod = !['api-server', 'backend', 'node', 'internet'].includes(src);
    const sender = f.tracesFrom === 'any-pod' ? isPod : src === 'app';
    const otlp = (f.grpc && port === 4317) || (f.http && port === 4318);
    ingress = (sender && tcp && otlp) || (src === 'prometheus' && tcp && port === 8888);
  }
  return egress && ingress;
}

void suite('chart: NetworkPolicies judged by Cyclonus', () => {
  for (const scenario of SCENARIOS) {
    void test(`scenario ${scenario}: exactly the intended connections are allowed`, async (t: TestContext) => {
      const flags = FLAGS[scenario];
      if (!flags) throw new Error(`no flags for scenario ${scenario}`);
      const objects = await renderScenario(scenario, { release: 'sx', namespace: RELEASE_NS });
      const policies = objects.filter((o) => o.kind === 'NetworkPolicy');
      const endpoints: Endpoint[] = [...OTHERS];
      const components = new Set<string>();
      for (const [component, { workload, template }] of podTemplates(objects)) {
        components.add(component);
        const namespace = workload.metadata.namespace ?? RELEASE_NS;
        endpoints.push({ name: component, peer: { namespace, namespaceLabels: ns(namespace), podLabels: template.metadata.labels } });
      }
      const connections: Connection[] = [];
      for (const s of endpoints) {
        for (const d of endpoints) {
          if (s === d || !('namespace' in s.peer || 'namespace' in d.peer)) continue;
          if (!components.has(s.name) && !components.has(d.name)) continue;
          for (const p of PORTS) connections.push({ name: `${s.name} -> ${d.name}:${p.port}/${p.protocol}`, source: s.peer, destination: d.peer, ...p });
        }
      }
      const verdicts = await analyzeNetworkPolicies({ policies, connections });
      t.assert.equal(verdicts.length, connections.length);
      const wrong: string[] = [];
      const allowed: string[] = [];
      verdicts.forEach((v, i) => {
        const c = connections[i];
        if (!c) return;
        const [src = '', rest = ''] = (c.name ?? '').split(' -> ');
        const dst = rest.split(':')[0] ?? '';
        const want = intended(flags, src, dst, c.port, c.protocol);
        if (v.allowed) allowed.push(c.name ?? '');
        if (v.allowed !== want) wrong.push(`${c.name ?? ''}: Cyclonus says ${v.allowed ? 'allowed' : 'denied'} (ingress ${v.ingress}, egress ${v.egress}), intended ${want ? 'allowed' : 'denied'}`);
      });
      t.assert.deepStrictEqual(wrong, [], `${wrong.length} of ${connections.length} connections differ`);
      // Port 24322 is reachable from the API server's address only, and only with the audit webhook on.
      const audit = allowed.filter((a) => a.includes(':24322/'));
      if (flags.netpol) t.assert.deepStrictEqual(audit, flags.auditWebhook === true ? ['api-server -> enrichment:24322/TCP'] : []);
      // The verdicts are not vacuous: each enabled component has allowed and denied flows, and DNS is among the allowed.
      if (flags.netpol) {
        for (const c of components) {
          t.assert.ok(allowed.some((a) => a.includes(c)), `${c} has no allowed flow`);
          t.assert.ok(allowed.includes(`${c} -> kube-dns:53/UDP`), `${c} cannot resolve names`);
          t.assert.ok(!allowed.includes(`${c} -> internet:53/UDP`), `${c} may use an outside resolver`);
        }
        t.assert.ok(allowed.length < connections.length / 4, `${allowed.length} of ${connections.length} allowed`);
      } else {
        t.assert.equal(policies.length, 0);
        t.assert.equal(allowed.length, connections.length);
      }
    });
  }
});

void suite('networkpolicies/ is generated from the chart', () => {
  void test('each pipeline directory equals a fresh render (deploy/scripts/gen-networkpolicies.sh)', async (t: TestContext) => {
    const out = await mkdtemp(join(tmpdir(), 'sextant-netpol-'));
    t.after(() => rm(out, { recursive: true, force: true }));
    const helm = await helmBin();
    const sets: [string, string[]][] = [['logs', []], ['metrics', []], ['traces', []], ['audit-webhook', ['--feature', 'audit-webhook']]];
    for (const [pipeline, extra] of sets) {
      await execFileP(
        process.execPath,
        [
          join(REPO_ROOT, 'packages', 'cli', 'src', 'main.ts'),
          'networkpolicies',
          '--release',
          'sextant',
          '--namespace',
          'sextant',
          '-f',
          join(REPO_ROOT, 'deploy', 'networkpolicies-values', `${pipeline}.yaml`),
          '--out',
          join(out, pipeline),
          ...extra,
        ],
        { env: { ...process.env, SEXTANT_HELM: helm } },
      );
      const committed = join(REPO_ROOT, 'networkpolicies', pipeline);
      const want = (await readdir(join(out, pipeline))).sort();
      const have = (await readdir(committed)).filter((f) => f.endsWith('.yaml')).sort();
      t.assert.deepStrictEqual(have, want, `${pipeline}: files differ; run deploy/scripts/gen-networkpolicies.sh`);
      for (const f of want) {
        t.assert.equal(
          await readFile(join(committed, f), 'utf8'),
          await readFile(join(out, pipeline, f), 'utf8'),
          `networkpolicies/${pipeline}/${f} drifted from the chart; run deploy/scripts/gen-networkpolicies.sh`,
        );
      }
    }
    t.assert.deepStrictEqual((await readdir(join(out, 'logs'))).sort(), ['enrichment.yaml', 'node-collector.yaml']);
    t.assert.deepStrictEqual(await readdir(join(out, 'traces')), ['trace-receiver.yaml']);
    // A feature's set holds only that feature's policy, to apply on top of a pipeline's.
    t.assert.deepStrictEqual(await readdir(join(out, 'audit-webhook')), ['enrichment-audit-webhook.yaml']);
  });

  void test('networkpolicies/audit-webhook applies on top of logs/: Cyclonus opens 24322 and changes nothing else', async (t: TestContext) => {
    const objects = await renderScenario('logs-only', { release: 'sextant', namespace: 'sextant' });
    const enrichment = podTemplates(objects).get('enrichment');
    const collector = podTemplates(objects).get('node-collector');
    if (!enrichment || !collector) throw new Error('logs-only renders no enrichment or collector');
    const en: PodPeer = { namespace: 'sextant', namespaceLabels: ns('sextant'), podLabels: enrichment.template.metadata.labels };
    const nc: PodPeer = { namespace: 'sextant', namespaceLabels: ns('sextant'), podLabels: collector.template.metadata.labels };
    const stranger = OTHERS[2]?.peer;
    const apiServer = OTHERS[4]?.peer;
    if (!stranger || !apiServer) throw new Error('probe peers missing');
    const connections: Connection[] = [
      { name: 'api-server -> enrichment:24322', source: apiServer, destination: en, port: 24322, protocol: 'TCP' },
      { name: 'api-server -> enrichment:24321', source: apiServer, destination: en, port: 24321, protocol: 'TCP' },
      { name: 'collector -> enrichment:24321', source: nc, destination: en, port: 24321, protocol: 'TCP' },
      { name: 'stranger -> enrichment:24321', source: stranger, destination: en, port: 24321, protocol: 'TCP' },
      { name: 'enrichment -> stranger:24322', source: en, destination: stranger, port: 24322, protocol: 'TCP' },
    ];
    const load = async (dir: string): Promise<unknown[]> => {
      const files = (await readdir(join(REPO_ROOT, 'networkpolicies', dir))).filter((f) => f.endsWith('.yaml'));
      return Promise.all(files.map(async (f) => parseYaml(await readFile(join(REPO_ROOT, 'networkpolicies', dir, f), 'utf8')) as unknown));
    };
    const verdict = async (dirs: string[]): Promise<string[]> =>
      (await analyzeNetworkPolicies({ policies: (await Promise.all(dirs.map(load))).flat() as object[], connections })).map((v) => `${v.name ?? ''}=${v.allowed}`);
    t.assert.deepStrictEqual(await verdict(['logs']), [
      'api-server -> enrichment:24322=false',
      'api-server -> enrichment:24321=false',
      'collector -> enrichment:24321=true',
      'stranger -> enrichment:24321=false',
      'enrichment -> stranger:24322=false',
    ]);
    // The generated set has no API server addresses, so it admits any source to 24322 (and only to 24322).
    t.assert.deepStrictEqual(await verdict(['logs', 'audit-webhook']), [
      'api-server -> enrichment:24322=true',
      'api-server -> enrichment:24321=false',
      'collector -> enrichment:24321=true',
      'stranger -> enrichment:24321=false',
      'enrichment -> stranger:24322=false',
    ]);
  });

  void test('the plain manifests allow what the chart allows: Cyclonus agrees on the traces set', async (t: TestContext) => {
    const objects = await renderScenario('traces-only', { release: 'sextant', namespace: 'sextant' });
    const receiver = podTemplates(objects).get('trace-receiver');
    if (!receiver) throw new Error('no trace receiver rendered');
    const rx: PodPeer = { namespace: 'sextant', namespaceLabels: ns('sextant'), podLabels: receiver.template.metadata.labels };
    const app = OTHERS[0]?.peer;
    const prom = OTHERS[1]?.peer;
    const internet = OTHERS[7]?.peer;
    if (!app || !prom || !internet) throw new Error('probe peers missing');
    const connections: Connection[] = [
      { name: 'app -> rx:4317', source: app, destination: rx, port: 4317, protocol: 'TCP' },
      { name: 'prometheus -> rx:8888', source: prom, destination: rx, port: 8888, protocol: 'TCP' },
      { name: 'prometheus -> rx:4318', source: prom, destination: rx, port: 4318, protocol: 'TCP' },
      { name: 'internet -> rx:4317', source: internet, destination: rx, port: 4317, protocol: 'TCP' },
      { name: 'rx -> internet:443', source: rx, destination: internet, port: 443, protocol: 'TCP' },
      { name: 'rx -> internet:80', source: rx, destination: internet, port: 80, protocol: 'TCP' },
    ];
    const verdicts = await analyzeNetworkPolicies({ policyDir: join(REPO_ROOT, 'networkpolicies', 'traces'), connections });
    // The generated set leaves API-server and backend addresses open (any address on 443/6443), and lets any pod send traces.
    t.assert.deepStrictEqual(
      verdicts.map((v) => `${v.name ?? ''}=${v.allowed}`),
      ['app -> rx:4317=true', 'prometheus -> rx:8888=true', 'prometheus -> rx:4318=true', 'internet -> rx:4317=false', 'rx -> internet:443=true', 'rx -> internet:80=false'],
    );
  });
});
