// The chart against a real kube-apiserver (from @sextant/test-env; one per file): helm install of every
// scenario, PodSecurity admission of Pods made from the rendered pod templates, and RBAC exercised with
// tokens of the chart's own ServiceAccounts.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, suite, test } from 'node:test';
import type { TestContext } from 'node:test';
import {
  ApiException,
  ApiextensionsV1Api,
  AppsV1Api,
  AuthenticationV1Api,
  AuthorizationV1Api,
  BatchV1Api,
  CoordinationV1Api,
  CoreV1Api,
  EventsV1Api,
  KubeConfig,
  KubernetesObjectApi,
} from '@kubernetes/client-node';
import type { V1CustomResourceDefinition, V1Pod, V1PodSpec } from '@kubernetes/client-node';
import { createEnrichmentService, loadEnrichmentConfig } from '@sextant/enrichment';
import { helm, startCluster } from '@sextant/test-env';
import { createTraceReceiver, loadTraceReceiverConfig } from '@sextant/trace-receiver';
import type { Cluster } from '@sextant/test-env';
import { CHART_DIR, SCENARIOS, find, podTemplates, render, renderScenario, scenarioFile } from './chart.ts';
import type { Obj, PodTemplate } from './chart.ts';

/** The HTTP status the API server answered `fn` with (200 when it succeeded). */
async function status(fn: () => Promise<unknown>): Promise<number> {
  try {
    await fn();
    return 200;
  } catch (err) {
    if (err instanceof ApiException) return err.code;
    throw err;
  }
}

/** The API server's message for a refused request. */
async function refusal(fn: () => Promise<unknown>): Promise<string> {
  try {
    await fn();
  } catch (err) {
    if (!(err instanceof ApiException)) throw err;
    let body: unknown = err.body;
    if (typeof body === 'string') {
      try {
        body = JSON.parse(body);
      } catch {
        return body as string;
      }
    }
    const message = (body as { message?: unknown } | null)?.message;
    return typeof message === 'string' ? message : JSON.stringify(body);
  }
  throw new Error('the API server admitted the request');
}

/** Stub CRDs so that the monitors of the all-on scenario can be stored (the real ones come with the Prometheus Operator). */
function monitorCrd(kind: string, plural: string): V1CustomResourceDefinition {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${plural}.monitoring.coreos.com` },
    spec: {
      group: 'monitoring.coreos.com',
      scope: 'Namespaced',
      names: { kind, plural, singular: kind.toLowerCase(), listKind: `${kind}List` },
      versions: [{ name: 'v1', served: true, storage: true, schema: { openAPIV3Schema: { type: 'object', x_kubernetes_preserve_unknown_fields: true } } }],
    },
  };
}

/** The Pod a workload controller would create from this template (a StatefulSet adds its claim volumes). */
function podFrom(name: string, workload: Obj, template: PodTemplate): V1Pod {
  const spec = structuredClone(template.spec) as unknown as V1PodSpec;
  const claims = (workload['spec'] as { volumeClaimTemplates?: { metadata: { name: string } }[] }).volumeClaimTemplates ?? [];
  for (const c of claims) (spec.volumes ??= []).push({ name: c.metadata.name, persistentVolumeClaim: { claimName: `${c.metadata.name}-${name}` } });
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name, labels: template.metadata.labels }, spec };
}

void suite('chart on a real kube-apiserver', () => {
  let cluster: Cluster;
  let core: CoreV1Api;

  before(async () => {
    cluster = await startCluster();
    core = cluster.adminClient.makeApiClient(CoreV1Api);
    const ext = cluster.adminClient.makeApiClient(ApiextensionsV1Api);
    await ext.createCustomResourceDefinition({ body: monitorCrd('ServiceMonitor', 'servicemonitors') });
    await ext.createCustomResourceDefinition({ body: monitorCrd('PodMonitor', 'podmonitors') });
    // The collector of the logs-only scenario lives in its own namespace (collector.namespace).
    await cluster.createNamespace('sextant-node', { 'pod-security.kubernetes.io/enforce': 'privileged' });
    // helm discovers the CRDs' kinds; wait until the API server serves them.
    const deadline = Date.now() + 30_000;
    for (;;) {
      const r = await cluster.adminClient.makeApiClient(KubernetesObjectApi).list('monitoring.coreos.com/v1', 'ServiceMonitor').then(
        () => true,
        () => false,
      );
      if (r) break;
      if (Date.now() > deadline) throw new Error('the monitor CRDs were not served within 30 s');
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  });

  after(async () => {
    await cluster.stop();
  });

  const releaseNs = (scenario: string): string => `i-${scenario}`;
  // Every scenario is installed once, up front; the RBAC tests use these releases' ServiceAccounts.
  const installs = new Map<string, { code: number; stdout: string; stderr: string }>();
  before(async () => {
    for (const scenario of SCENARIOS) {
      const ns = releaseNs(scenario);
      await cluster.createNamespace(ns, { 'pod-security.kubernetes.io/enforce': 'privileged' });
      installs.set(scenario, await helm(['install', scenario, CHART_DIR, '--namespace', ns, '--values', scenarioFile(scenario)], { kubeconfig: cluster.kubeconfigPath }));
    }
  });

  void test('helm install succeeds for every scenario, and the API server stores every rendered object', async (t: TestContext) => {
    const objects = cluster.adminClient.makeApiClient(KubernetesObjectApi);
    for (const scenario of SCENARIOS) {
      const ns = releaseNs(scenario);
      const r = installs.get(scenario);
      if (!r) throw new Error(`${scenario} was not installed`);
      t.assert.equal(r.code, 0, `${scenario}: ${r.stderr}`);
      // Server-side field validation reports unknown or duplicate fields as warnings; there must be none.
      t.assert.doesNotMatch(r.stderr, /unknown field|duplicate field/i, scenario);
      t.assert.match(r.stdout, /Privileges this release asks for/, `${scenario}: NOTES.txt`);
      const rendered = await renderScenario(scenario, { release: scenario, namespace: ns });
      t.assert.ok(rendered.length > 0);
      for (const o of rendered) {
        const stored = await objects.read({ apiVersion: o.apiVersion, kind: o.kind, metadata: { name: o.metadata.name, namespace: o.metadata.namespace ?? '' } });
        t.assert.equal(stored.metadata?.labels?.['app.kubernetes.io/instance'], scenario, `${scenario}: ${o.kind}/${o.metadata.name}`);
      }
    }
    const status = await helm(['list', '--all-namespaces', '--output', 'json'], { kubeconfig: cluster.kubeconfigPath });
    const releases = JSON.parse(status.stdout) as { name: string; status: string }[];
    t.assert.deepStrictEqual(releases.map((r) => `${r.name}:${r.status}`).sort(), SCENARIOS.map((s) => `${s}:deployed`).sort());
  });

  void test('a value the schema forbids fails helm install before anything is created', async (t: TestContext) => {
    await cluster.createNamespace('i-typo');
    const r = await helm(['install', 'typo', CHART_DIR, '--namespace', 'i-typo', '--set', 'traces.grpc.enabeld=false'], { kubeconfig: cluster.kubeconfigPath });
    t.assert.notEqual(r.code, 0);
    t.assert.match(r.stderr, /additional properties 'enabeld' not allowed/);
    const cms = await core.listNamespacedConfigMap({ namespace: 'i-typo' });
    t.assert.deepStrictEqual(cms.items.filter((c) => c.metadata?.labels?.['app.kubernetes.io/instance'] === 'typo'), []);
  });

  void test('PodSecurity only warns about the DaemonSet: a wrong namespace label surfaces as Pods the controller cannot create', async (t: TestContext) => {
    await cluster.createNamespace('i-wrong-level', { 'pod-security.kubernetes.io/enforce': 'restricted' });
    const r = await helm(['install', 'wrong-level', CHART_DIR, '--namespace', 'i-wrong-level', '--values', scenarioFile('collector-root')], {
      kubeconfig: cluster.kubeconfigPath,
    });
    t.assert.equal(r.code, 0, r.stderr);
    t.assert.match(r.stderr, /would violate PodSecurity \\?"restricted:latest\\?": restricted volume types/);
  });

  void suite('PodSecurity admission of Pods made from the rendered templates', () => {
    const levels = ['restricted', 'baseline', 'privileged'] as const;
    let templates: Map<string, { workload: Obj; template: PodTemplate }>;

    before(async () => {
      templates = new Map();
      const add = (prefix: string, objects: Obj[]): void => {
        for (const [component, w] of podTemplates(objects)) templates.set(`${prefix}/${component}`, w);
      };
      add('root', await renderScenario('collector-root', { release: 'ps' }));
      add('nonroot', await renderScenario('collector-nonroot', { release: 'ps' }));
      add('journald', await renderScenario('journald-root', { release: 'ps' }));
      add('journald-nonroot', await renderScenario('journald-nonroot', { release: 'ps' }));
      add('audit-file', await renderScenario('audit-file', { release: 'ps' }));
      add('audit-webhook', await renderScenario('audit-webhook', { release: 'ps' }));
      add('mtls', await renderScenario('mtls', { release: 'ps' }));
      // A collector with kubelet metrics only has no hostPath at all.
      const kubeletOnly = ['logs.enabled=false', 'metrics.host=false', 'metrics.kubelet=true', 'traces.enabled=false'];
      for (const preset of ['root', 'nonroot']) {
        const r = await render({ release: 'ps', files: [scenarioFile('collector-root')], set: [...kubeletOnly, `collector.securityPreset=${preset}`] });
        if (r.code !== 0) throw new Error(r.stderr);
        add(`kubelet-only-${preset}`, r.objects);
      }
      for (const level of levels) {
        await cluster.createNamespace(`ps-${level}`, { 'pod-security.kubernetes.io/enforce': level });
        for (const sa of ['ps-sextant-node-collector', 'ps-sextant-enrichment', 'ps-sextant-trace-receiver']) {
          await core.createNamespacedServiceAccount({ namespace: `ps-${level}`, body: { metadata: { name: sa } } });
        }
      }
    });

    const create = (level: string, key: string): Promise<unknown> => {
      const w = templates.get(key);
      if (!w) throw new Error(`no template ${key}`);
      return core.createNamespacedPod({ namespace: `ps-${level}`, body: podFrom(key.replace('/', '-'), w.workload, w.template) });
    };

    void test('enrichment and trace-receiver Pods are admitted where `restricted` is enforced, also with the audit webhook and mTLS Secrets', async (t: TestContext) => {
      for (const key of ['root/enrichment', 'root/trace-receiver', 'audit-webhook/enrichment', 'mtls/enrichment']) {
        t.assert.equal(await status(() => create('restricted', key)), 200, key);
      }
    });

    void test('collector Pods with hostPaths (both presets) are refused by restricted and baseline, admitted by privileged', async (t: TestContext) => {
      for (const key of ['root/node-collector', 'nonroot/node-collector']) {
        for (const level of ['restricted', 'baseline']) {
          const body = await refusal(() => create(level, key));
          t.assert.match(body, new RegExp(`violates PodSecurity "${level}:latest"`), `${key} in ${level}`);
          const volumes = '"pod-logs", "checkpoints", "host-proc", "host-sys"';
          const why = level === 'baseline' ? `hostPath volumes (volumes ${volumes})` : `restricted volume types (volumes ${volumes} use restricted volume type "hostPath")`;
          t.assert.ok(body.includes(why), `${key} in ${level}: ${body}`);
          // hostPath is the only reason at baseline: nothing else of the collector is beyond baseline.
          if (level === 'baseline') t.assert.doesNotMatch(body, /privileged|hostNetwork|hostPID|capabilities|allowPrivilegeEscalation/, key);
        }
        t.assert.equal(await status(() => create('privileged', key)), 200, `${key} in privileged`);
      }
    });

    void test('collector Pods with the journal or the audit log directory are refused by restricted and baseline for those hostPaths only, admitted by privileged', async (t: TestContext) => {
      const cases: [string, string][] = [
        ['journald/node-collector', '"checkpoints", "journal-var", "journal-run"'],
        ['journald-nonroot/node-collector', '"pod-logs", "checkpoints", "journal-var", "journal-run", "host-proc", "host-sys"'],
        ['audit-file/node-collector', '"pod-logs", "checkpoints", "audit-log", "host-proc", "host-sys"'],
      ];
      for (const [key, volumes] of cases) {
        for (const level of ['restricted', 'baseline']) {
          const body = await refusal(() => create(level, key));
          const why = level === 'baseline' ? `hostPath volumes (volumes ${volumes})` : `restricted volume types (volumes ${volumes} use restricted volume type "hostPath")`;
          t.assert.ok(body.includes(why), `${key} in ${level}: ${body}`);
          if (level === 'baseline') t.assert.doesNotMatch(body, /privileged|hostNetwork|hostPID|capabilities|allowPrivilegeEscalation/, key);
        }
        t.assert.equal(await status(() => create('privileged', key)), 200, `${key} in privileged`);
      }
      // The journal group is an ordinary supplemental group: nothing beyond hostPath for the nonroot journald collector.
      const restricted = await refusal(() => create('restricted', 'journald-nonroot/node-collector'));
      t.assert.doesNotMatch(restricted, /runAsNonRoot|runAsUser|supplementalGroups/);
    });

    void test('restricted refuses the root collector only for running as root; nonroot passes restricted apart from hostPath', async (t: TestContext) => {
      const root = await refusal(() => create('restricted', 'kubelet-only-root/node-collector'));
      t.assert.match(root, /runAsNonRoot != true|runAsUser=0/);
      t.assert.doesNotMatch(root, /hostPath|capabilities|allowPrivilegeEscalation|seccompProfile/);
      t.assert.equal(await status(() => create('baseline', 'kubelet-only-root/node-collector')), 200);
      t.assert.equal(await status(() => create('restricted', 'kubelet-only-nonroot/node-collector')), 200);
    });
  });

  void suite('RBAC with tokens of the chart ServiceAccounts', () => {
    const client = (token: string): KubeConfig => {
      const kc = new KubeConfig();
      kc.loadFromFile(cluster.kubeconfigFor(token));
      return kc;
    };
    const token = (scenario: string, component: string): Promise<string> => cluster.tokenFor(releaseNs(scenario), `${scenario}-sextant-${component}`);

    /** What the kubelet does for GET /stats/summary with webhook auth: TokenReview, then a SubjectAccessReview for nodes/stats. */
    const kubeletAllowsStats = async (tok: string): Promise<boolean> => {
      const review = await cluster.adminClient.makeApiClient(AuthenticationV1Api).createTokenReview({ body: { spec: { token: tok } } });
      const user = review.status?.user;
      if (review.status?.authenticated !== true || !user?.username) throw new Error('token not authenticated');
      const sar = await cluster.adminClient.makeApiClient(AuthorizationV1Api).createSubjectAccessReview({
        body: {
          spec: {
            user: user.username,
            groups: user.groups ?? [],
            ...(user.uid !== undefined && { uid: user.uid }),
            resourceAttributes: { verb: 'get', resource: 'nodes', subresource: 'stats', name: 'node-1' },
          },
        },
      });
      return sar.status?.allowed === true;
    };
    const canWatch = async (kc: KubeConfig, resource: string, group = ''): Promise<boolean> => {
      const r = await kc.makeApiClient(AuthorizationV1Api).createSelfSubjectAccessReview({ body: { spec: { resourceAttributes: { verb: 'watch', resource, group } } } });
      return r.status?.allowed === true;
    };
    const metadataReads = async (kc: KubeConfig): Promise<Record<string, number>> => ({
      pods: await status(() => kc.makeApiClient(CoreV1Api).listPodForAllNamespaces()),
      namespaces: await status(() => kc.makeApiClient(CoreV1Api).listNamespace()),
      nodes: await status(() => kc.makeApiClient(CoreV1Api).listNode()),
      replicasets: await status(() => kc.makeApiClient(AppsV1Api).listReplicaSetForAllNamespaces()),
      jobs: await status(() => kc.makeApiClient(BatchV1Api).listJobForAllNamespaces()),
    });
    // nodes only with a metadata.rules entry `from: node` (the metadata-rules scenario): nothing else watches them.
    const allowedReads = { pods: 200, namespaces: 200, nodes: 403, replicasets: 200, jobs: 200 };
    const allowedReadsWithNodes = { ...allowedReads, nodes: 200 };
    const forbiddenReads = { pods: 403, namespaces: 403, nodes: 403, replicasets: 403, jobs: 403 };

    const writesAndSecrets = async (kc: KubeConfig, ns: string): Promise<Record<string, number>> => {
      const c = kc.makeApiClient(CoreV1Api);
      return {
        'list secrets here': await status(() => c.listNamespacedSecret({ namespace: ns })),
        'list secrets everywhere': await status(() => c.listSecretForAllNamespaces()),
        'get secret': await status(() => c.readNamespacedSecret({ name: 'sextant-backend', namespace: ns })),
        'create configmap': await status(() => c.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'x' } } })),
        'delete pod': await status(() => c.deleteNamespacedPod({ name: 'any', namespace: ns })),
        'patch namespace': await status(() => c.patchNamespace({ name: ns, body: [{ op: 'add', path: '/metadata/labels/x', value: 'y' }] })),
        'create pod': await status(() => c.createNamespacedPod({ namespace: ns, body: { metadata: { name: 'x' }, spec: { containers: [{ name: 'x', image: 'x' }] } } })),
      };
    };
    const allForbidden = {
      'list secrets here': 403,
      'list secrets everywhere': 403,
      'get secret': 403,
      'create configmap': 403,
      'delete pod': 403,
      'patch namespace': 403,
      'create pod': 403,
    };

    void test('enrichment reads pods, namespaces, replicasets and jobs; no nodes without a node rule, no Secrets, no writes, no nodes/stats', async (t: TestContext) => {
      const tok = await token('collector-root', 'enrichment');
      const kc = client(tok);
      t.assert.deepStrictEqual(await metadataReads(kc), allowedReads);
      for (const [r, g] of [['pods', ''], ['namespaces', ''], ['replicasets', 'apps'], ['jobs', 'batch']] as const) t.assert.equal(await canWatch(kc, r, g), true, `watch ${r}`);
      t.assert.equal(await canWatch(kc, 'nodes'), false);
      t.assert.equal(await canWatch(kc, 'secrets'), false);
      t.assert.deepStrictEqual(await writesAndSecrets(kc, releaseNs('collector-root')), allForbidden);
      t.assert.equal(await kubeletAllowsStats(tok), false);
      // events are off in this scenario: no events, no leases.
      t.assert.equal(await status(() => kc.makeApiClient(EventsV1Api).listEventForAllNamespaces()), 403);
      t.assert.equal(await status(() => kc.makeApiClient(CoordinationV1Api).listNamespacedLease({ namespace: releaseNs('collector-root') })), 403);
    });

    void test('with events on, enrichment also reads events and manages Leases in its own namespace only', async (t: TestContext) => {
      const kc = client(await token('all-on', 'enrichment'));
      t.assert.equal(await status(() => kc.makeApiClient(EventsV1Api).listEventForAllNamespaces()), 200);
      const leases = kc.makeApiClient(CoordinationV1Api);
      const lease = { metadata: { name: 'sextant-events' }, spec: { holderIdentity: 'enrichment-0', leaseDurationSeconds: 15 } };
      t.assert.equal(await status(() => leases.createNamespacedLease({ namespace: releaseNs('all-on'), body: lease })), 200);
      t.assert.equal(await status(() => leases.readNamespacedLease({ name: 'sextant-events', namespace: releaseNs('all-on') })), 200);
      t.assert.equal(await status(() => leases.deleteNamespacedLease({ name: 'sextant-events', namespace: releaseNs('all-on') })), 403);
      t.assert.equal(await status(() => leases.createNamespacedLease({ namespace: 'kube-system', body: lease })), 403);
      t.assert.deepStrictEqual(await writesAndSecrets(kc, releaseNs('all-on')), allForbidden);
    });

    void test('with the audit webhook, enrichment gets no access to its Secrets through the API (they are mounted), and no more RBAC', async (t: TestContext) => {
      const kc = client(await token('audit-webhook', 'enrichment'));
      t.assert.deepStrictEqual(await metadataReads(kc), allowedReads);
      const c = kc.makeApiClient(CoreV1Api);
      for (const name of ['sextant-audit-token', 'sextant-audit-tls']) {
        t.assert.equal(await status(() => c.readNamespacedSecret({ name, namespace: releaseNs('audit-webhook') })), 403, name);
      }
      t.assert.deepStrictEqual(await writesAndSecrets(kc, releaseNs('audit-webhook')), allForbidden);
      t.assert.equal(await status(() => kc.makeApiClient(EventsV1Api).listEventForAllNamespaces()), 403);
    });

    void test('journald and the audit file give the collector no RBAC and no token', async (t: TestContext) => {
      for (const scenario of ['journald-root', 'journald-nonroot', 'audit-file']) {
        const tok = await token(scenario, 'node-collector');
        t.assert.equal(await kubeletAllowsStats(tok), false, scenario);
        t.assert.deepStrictEqual(await metadataReads(client(tok)), forbiddenReads, scenario);
        t.assert.deepStrictEqual(await writesAndSecrets(client(tok), releaseNs(scenario)), allForbidden, scenario);
      }
    });

    void test('with a node rule (metadata.rules from: node), enrichment and trace-receiver may also get, list and watch nodes, and nothing more', async (t: TestContext) => {
      for (const component of ['enrichment', 'trace-receiver']) {
        const tok = await token('metadata-rules', component);
        const kc = client(tok);
        t.assert.deepStrictEqual(await metadataReads(kc), allowedReadsWithNodes, component);
        t.assert.equal(await canWatch(kc, 'nodes'), true, component);
        t.assert.equal(await status(() => kc.makeApiClient(CoreV1Api).patchNode({ name: 'node-1', body: [{ op: 'add', path: '/metadata/labels/x', value: 'y' }] })), 403, component);
        t.assert.deepStrictEqual(await writesAndSecrets(kc, releaseNs('metadata-rules')), allForbidden, component);
        t.assert.equal(await kubeletAllowsStats(tok), false, component);
      }
    });

    /** Polls `ready` (the component's /readyz: metadata synced) for up to 30 s; a component whose watch is forbidden never gets there. */
    const becomesReady = async (ready: () => boolean): Promise<boolean> => {
      for (const deadline = Date.now() + 30_000; Date.now() < deadline; await new Promise((resolve) => setTimeout(resolve, 100))) if (ready()) return true;
      return ready();
    };

    void test('enrichment and trace-receiver, run with the rendered config and their own ServiceAccount token, sync every watch they start (with and without a node rule)', async (t: TestContext) => {
      const dir = mkdtempSync(join(tmpdir(), 'sextant-chart-sync-'));
      // Shut the components down (enrichment writes its queue checkpoint then) before the directory goes.
      const started: { shutdown(): Promise<void> }[] = [];
      t.after(async () => {
        for (const c of started.reverse()) await c.shutdown();
        rmSync(dir, { recursive: true, force: true });
      });
      const configFile = (objects: readonly Obj[], component: string): string => {
        const text = (find(objects, 'ConfigMap', component)?.['data'] as Record<string, string> | undefined)?.['config.yaml'];
        if (text === undefined) throw new Error(`no config.yaml for ${component}`);
        const path = join(dir, `${component}-${Math.random().toString(36).slice(2)}.yaml`);
        writeFileSync(path, text);
        return path;
      };
      const env = { SEXTANT_BACKEND_TOKEN: 'token', POD_NAMESPACE: 'x' };
      // collector-root has no rules (and no nodes grant); metadata-rules has a node rule (and the grant).
      for (const scenario of ['collector-root', 'metadata-rules']) {
        const objects = await renderScenario(scenario, { release: scenario, namespace: releaseNs(scenario) });
        const enrichmentKubeconfig = cluster.kubeconfigFor(await token(scenario, 'enrichment'));
        const enrichment = createEnrichmentService(
          loadEnrichmentConfig({
            file: configFile(objects, 'enrichment'),
            env,
            overrides: {
              listen: { host: '127.0.0.1', port: 0 },
              metadata: { source: 'kubeconfig', path: enrichmentKubeconfig },
              queue: { dir: join(dir, `queue-${scenario}`) },
              log: { level: 'silent' },
            },
          }),
        );
        started.push(enrichment);
        await enrichment.start();
        const receiverKubeconfig = cluster.kubeconfigFor(await token(scenario, 'trace-receiver'));
        const receiver = createTraceReceiver(
          loadTraceReceiverConfig({
            file: configFile(objects, 'trace-receiver'),
            env,
            overrides: {
              grpc: { host: '127.0.0.1', port: 0 },
              http: { host: '127.0.0.1', port: 0 },
              telemetry: { host: '127.0.0.1', port: 0 },
              kube: { source: 'kubeconfig', path: receiverKubeconfig },
              log: { level: 'silent' },
            },
          }),
        );
        started.push(receiver);
        await receiver.start();
        t.assert.equal(await becomesReady(() => enrichment.ready()), true, `${scenario}: enrichment`);
        t.assert.equal(await becomesReady(() => receiver.ready()), true, `${scenario}: trace-receiver`);
      }
    });

    void test('trace-receiver reads the same metadata kinds and nothing else', async (t: TestContext) => {
      const tok = await token('all-on', 'trace-receiver');
      const kc = client(tok);
      t.assert.deepStrictEqual(await metadataReads(kc), allowedReads);
      t.assert.equal(await status(() => kc.makeApiClient(EventsV1Api).listEventForAllNamespaces()), 403);
      t.assert.deepStrictEqual(await writesAndSecrets(kc, releaseNs('all-on')), allForbidden);
      t.assert.equal(await kubeletAllowsStats(tok), false);
    });

    void test('the collector may get nodes/stats only with kubelet metrics, and may read nothing from the API server', async (t: TestContext) => {
      const withKubelet = await token('all-on', 'node-collector');
      t.assert.equal(await kubeletAllowsStats(withKubelet), true);
      t.assert.deepStrictEqual(await metadataReads(client(withKubelet)), forbiddenReads);
      t.assert.deepStrictEqual(await writesAndSecrets(client(withKubelet), releaseNs('all-on')), allForbidden);

      const without = await token('collector-root', 'node-collector');
      t.assert.equal(await kubeletAllowsStats(without), false);
      t.assert.deepStrictEqual(await metadataReads(client(without)), forbiddenReads);
      t.assert.deepStrictEqual(await writesAndSecrets(client(without), releaseNs('collector-root')), allForbidden);
    });
  });
});
