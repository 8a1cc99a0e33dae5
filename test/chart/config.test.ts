// The chart's ConfigMaps are read from a file by the same loaders `sextant <component> --config` calls (strict: an
// unknown key fails), with only the pod's downward-API environment, and the ports and paths in them match the pod
// specs the chart renders beside them.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, suite, test } from 'node:test';
import type { TestContext } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { loadEnrichmentConfig } from '@sextant/enrichment';
import type { EnrichmentConfig } from '@sextant/enrichment';
import { loadConfig as loadCollectorConfig } from '@sextant/node-collector';
import type { ResolvedConfig } from '@sextant/node-collector';
import { loadTraceReceiverConfigFile } from '@sextant/trace-receiver';
import type { TraceReceiverConfig } from '@sextant/trace-receiver';
import { SCENARIOS, find, podTemplates, render, renderScenario } from './chart.ts';
import type { Obj, PodTemplate } from './chart.ts';

function configOf(objects: readonly Obj[], component: string): Record<string, unknown> {
  const cm = find(objects, 'ConfigMap', component);
  const text = (cm?.['data'] as Record<string, string> | undefined)?.['config.yaml'];
  if (text === undefined) throw new Error(`no config.yaml for ${component}`);
  return parseYaml(text) as Record<string, unknown>;
}

/** metadata.rules of ci/metadata-rules-values.yaml, as both components must read them. */
const METADATA_RULES = [
  { from: 'pod', source: 'label', key: 'app.kubernetes.io/version', tagName: 'service.version' },
  { from: 'pod', source: 'annotation', keyRegex: 'example\\.com/(.*)', tagName: 'example.$1' },
  { from: 'namespace', source: 'label', key: 'team' },
  { from: 'node', source: 'label', key: 'topology.kubernetes.io/zone', tagName: 'cloud.availability_zone' },
];

/** The rules and exclusion each scenario's values give (only metadata-rules sets them). */
function metadataOf(scenario: string): { rules: unknown[]; exclude: { annotation: string; value: string } } {
  return scenario === 'metadata-rules'
    ? { rules: METADATA_RULES, exclude: { annotation: 'example.com/no-telemetry', value: 'yes' } }
    : { rules: [], exclude: { annotation: 'sextant.io/exclude', value: 'true' } };
}

/** The keys of a loaded rule that are set (the loaders fill unset optional keys with undefined). */
function setKeys(o: object): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
}

/** Whether the component's ClusterRole grants nodes (get/list/watch). */
function grantsNodes(objects: readonly Obj[], component: string): boolean {
  const rules = (find(objects, 'ClusterRole', component)?.['rules'] ?? []) as { apiGroups: string[]; resources: string[] }[];
  return rules.some((r) => r.apiGroups.includes('') && r.resources.includes('nodes'));
}

const dir = mkdtempSync(join(tmpdir(), 'sextant-chart-config-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;

/** Writes the component's config.yaml as the pod sees it at /etc/sextant/config.yaml, and returns its path. */
function configFile(objects: readonly Obj[], component: string): string {
  const cm = find(objects, 'ConfigMap', component);
  const text = (cm?.['data'] as Record<string, string> | undefined)?.['config.yaml'];
  if (text === undefined) throw new Error(`no config.yaml for ${component}`);
  const path = join(dir, `${component}-${files++}.yaml`);
  writeFileSync(path, text);
  return path;
}

function loadEnrichment(objects: readonly Obj[], env: Record<string, string> = {}): EnrichmentConfig {
  return loadEnrichmentConfig({ file: configFile(objects, 'enrichment'), env });
}

function loadTraceReceiver(objects: readonly Obj[], env: Record<string, string> = {}): TraceReceiverConfig {
  return loadTraceReceiverConfigFile(configFile(objects, 'trace-receiver'), env);
}

function loadCollector(objects: readonly Obj[], env: Record<string, string>): Promise<ResolvedConfig> {
  return loadCollectorConfig(configFile(objects, 'node-collector'), env);
}

function mountPath(template: PodTemplate, volume: string): string | undefined {
  return template.spec.containers[0]?.volumeMounts?.find((m) => m.name === volume)?.mountPath;
}

function containerPort(template: PodTemplate, name: string): number | undefined {
  return template.spec.containers[0]?.ports?.find((p) => p.name === name)?.containerPort;
}

void suite('chart ConfigMaps against the components config loaders', () => {
  for (const scenario of SCENARIOS) {
    void test(`scenario ${scenario}: every component accepts its config, and ports and paths match the pod spec`, async (t: TestContext) => {
      const objects = await renderScenario(scenario, { release: 'sx', namespace: 'sextant' });
      const templates = podTemplates(objects);
      // The pods get these from the downward API.
      const env = { NODE_NAME: 'node-1', POD_NAME: 'sx-sextant-node-collector-abcde', POD_NAMESPACE: 'sextant' };

      const collector = templates.get('node-collector');
      if (collector) {
        const cfg = await loadCollector(objects, env);
        t.assert.deepStrictEqual(cfg.server, { port: containerPort(collector.template, 'metrics') ?? -1, host: '0.0.0.0' });
        t.assert.equal(cfg.checkpointDir, '/var/lib/sextant/checkpoints');
        t.assert.equal(cfg.service?.name, 'sx-sextant-enrichment-headless.sextant.svc.cluster.local');
        t.assert.equal(cfg.service?.port, 24321);
        // The nodes compress with the backend's codec, so enrichment passes the compressed records through.
        const enrichmentExporter = templates.has('enrichment') ? loadEnrichment(objects).exporter : undefined;
        if (enrichmentExporter !== undefined) t.assert.equal(cfg.compression, enrichmentExporter.compression === 'none' ? 'zstd' : enrichmentExporter.compression);
        t.assert.equal(cfg.nodeName, 'node-1');
        const logs = mountPath(collector.template, 'pod-logs');
        if (logs !== undefined) {
          t.assert.equal(cfg.logRoot, logs);
          t.assert.equal(mountPath(collector.template, 'checkpoints'), cfg.checkpointDir);
          t.assert.deepStrictEqual(cfg.include, []);
        } else {
          // Logs off: nothing under /var/log/pods is mounted, and the collector is told to match no file.
          t.assert.deepStrictEqual(cfg.include, [{ namespace: '/^$/' }]);
        }
        // Metrics: /proc and /sys are the DaemonSet's host mounts; the kubelet (only with a token) is the node's IP.
        const metrics = (await loadCollector(objects, { ...env, HOST_IP: '10.0.0.7' })).metrics;
        const proc = mountPath(collector.template, 'host-proc');
        t.assert.deepStrictEqual(
          metrics === false ? false : metrics.host,
          proc === undefined ? false : { procRoot: proc, sysRoot: mountPath(collector.template, 'host-sys'), rootfs: undefined },
        );
        const kubelet = metrics === false ? false : metrics.kubelet;
        t.assert.equal(kubelet !== false, collector.template.spec.automountServiceAccountToken === true);
        if (kubelet !== false) t.assert.equal(kubelet.endpoint, 'https://10.0.0.7:10250');
        // journald reads exactly the two mounted journal directories, and is off without them.
        const journal = [mountPath(collector.template, 'journal-var'), mountPath(collector.template, 'journal-run')];
        t.assert.deepStrictEqual(cfg.journald === false ? false : cfg.journald.dirs, journal[0] === undefined ? false : journal);
        // The audit log file lies in the mounted directory, and is off without it.
        const auditDir = mountPath(collector.template, 'audit-log');
        t.assert.equal(cfg.auditLog !== false, auditDir !== undefined);
        if (cfg.auditLog !== false) for (const f of cfg.auditLog.paths) t.assert.equal(dirname(f), auditDir);
        // Every source that keeps read positions has the checkpoint hostPath at checkpointDir.
        if (logs !== undefined || cfg.journald !== false || cfg.auditLog !== false) t.assert.equal(mountPath(collector.template, 'checkpoints'), cfg.checkpointDir);
        // mtlsSecret: the collector's TLS files are the mounted Secret's (the key names are those of the collector's
        // config; see the report if its loader has not taken them yet).
        const tls = (cfg as unknown as { tls?: { caFile?: string; certFile?: string; keyFile?: string; serverName?: string } }).tls;
        const mtls = mountPath(collector.template, 'mtls');
        if (mtls === undefined) t.assert.ok(tls === undefined || tls.certFile === undefined, 'no client certificate without mtlsSecret');
        else {
          t.assert.equal(tls?.caFile, `${mtls}/ca.crt`);
          t.assert.equal(tls?.certFile, `${mtls}/tls.crt`);
          t.assert.equal(tls?.keyFile, `${mtls}/tls.key`);
          t.assert.equal(tls?.serverName, cfg.service?.name);
        }
      }

      const enrichment = templates.get('enrichment');
      if (enrichment) {
        const cfg = loadEnrichment(objects, { POD_NAME: 'sx-sextant-enrichment-0', POD_NAMESPACE: 'sextant' });
        t.assert.equal(cfg.listen.port, containerPort(enrichment.template, 'otlp-http'));
        t.assert.equal(cfg.queue.dir, mountPath(enrichment.template, 'queue'));
        t.assert.equal(cfg.metadata.source, 'in-cluster');
        t.assert.equal(cfg.metadata.clusterName, 'ci');
        if (scenario === 'splunk-hec') {
          t.assert.equal(cfg.exporter.protocol, 'splunk_hec');
          t.assert.equal(cfg.exporter.endpoint, 'https://splunk.example.com:8088');
        } else {
          t.assert.equal(cfg.exporter.protocol, 'otlp_http');
          t.assert.equal(cfg.exporter.endpoint, 'https://otlp.example.com:443');
        }
        t.assert.equal(cfg.queue.maxBytes, 9 * 1024 ** 3);
        // mtlsSecret: HTTPS with client certificates from the mounted Secret, and probes that speak HTTPS.
        const mtls = mountPath(enrichment.template, 'mtls');
        const scheme = enrichment.template.spec.containers[0]?.readinessProbe?.httpGet?.scheme;
        t.assert.deepStrictEqual(
          { certFile: cfg.listen.tls.certFile, keyFile: cfg.listen.tls.keyFile, clientCaFile: cfg.listen.tls.clientCaFile },
          mtls === undefined
            ? { certFile: undefined, keyFile: undefined, clientCaFile: undefined }
            : { certFile: `${mtls}/tls.crt`, keyFile: `${mtls}/tls.key`, clientCaFile: `${mtls}/ca.crt` },
        );
        t.assert.equal(scheme, mtls === undefined ? 'HTTP' : 'HTTPS');
        // audit.webhook: on exactly when the pod has the audit port, listening on it, with its files in the mount.
        const auditPort = containerPort(enrichment.template, 'audit');
        t.assert.equal(cfg.audit.enabled, auditPort !== undefined);
        if (cfg.audit.enabled) {
          const dir = mountPath(enrichment.template, 'audit-webhook');
          t.assert.equal(cfg.audit.listen.port, auditPort);
          t.assert.equal(cfg.audit.tls.certFile, `${dir ?? '?'}/tls.crt`);
          t.assert.equal(cfg.audit.tls.keyFile, `${dir ?? '?'}/tls.key`);
          t.assert.deepStrictEqual(cfg.audit.token, { fromFile: `${dir ?? '?'}/token` });
        }
        // events.enabled grants the events RBAC (the leader Role) and turns the events source on, or neither.
        const eventsRbac = objects.some((o) => o.kind === 'Role' && o.metadata.name === 'sx-sextant-enrichment-events-leader');
        t.assert.equal(cfg.events.enabled, eventsRbac);
        if (cfg.events.enabled) t.assert.equal(cfg.events.lease.name, 'sx-sextant-enrichment-events');
        // metadata.rules and metadata.exclude as the values give them; nodes are granted exactly when the cache will
        // watch them (a node rule, with informers.nodes left to its default), see @sextant/kube-metadata cache.ts.
        const want = metadataOf(scenario);
        t.assert.deepStrictEqual(cfg.metadata.rules.map(setKeys), want.rules);
        t.assert.deepStrictEqual({ ...cfg.metadata.exclude }, want.exclude);
        t.assert.equal(cfg.metadata.informers.nodes, undefined);
        t.assert.equal(grantsNodes(objects, 'enrichment'), cfg.metadata.rules.some((r) => r.from === 'node'));
      }

      const receiver = templates.get('trace-receiver');
      if (receiver) {
        const cfg = loadTraceReceiver(objects, { POD_NAME: 'sx-sextant-trace-receiver-abcde', POD_NAMESPACE: 'sextant' });
        t.assert.equal(cfg.grpc.enabled, containerPort(receiver.template, 'otlp-grpc') !== undefined);
        t.assert.equal(cfg.http.enabled, containerPort(receiver.template, 'otlp-http') !== undefined);
        if (cfg.grpc.enabled) t.assert.equal(cfg.grpc.port, containerPort(receiver.template, 'otlp-grpc'));
        if (cfg.http.enabled) t.assert.equal(cfg.http.port, containerPort(receiver.template, 'otlp-http'));
        t.assert.equal(cfg.telemetry.port, containerPort(receiver.template, 'metrics'));
        t.assert.equal(cfg.kube.clusterName, 'ci');
        t.assert.equal(cfg.exporter.type, 'otlp_http');
        const want = metadataOf(scenario);
        t.assert.deepStrictEqual(cfg.kube.rules.map(setKeys), want.rules);
        t.assert.deepStrictEqual({ annotation: cfg.kube.excludeAnnotation, value: cfg.kube.excludeValue }, want.exclude);
        t.assert.equal(grantsNodes(objects, 'trace-receiver'), cfg.kube.rules.some((r) => r.from === 'node'));
      }
      t.assert.ok(templates.size > 0);
    });
  }

  void test('backend.compression: enrichment exports with it, the node collectors send it (zstd for none), the trace receiver sends gzip for zstd', async (t: TestContext) => {
    const env = { NODE_NAME: 'node-1', POD_NAME: 'p', POD_NAMESPACE: 'sextant' };
    for (const [compression, collector, traces] of [['gzip', 'gzip', 'gzip'], ['zstd', 'zstd', 'gzip'], ['none', 'zstd', 'none']] as const) {
      const r = await render({ set: ['backend.endpoint=https://otlp.example.com:4318', `backend.compression=${compression}`, 'traces.enabled=true'] });
      t.assert.equal(r.code, 0, r.stderr);
      t.assert.equal(loadEnrichment(r.objects).exporter.compression, compression);
      t.assert.equal((await loadCollector(r.objects, env)).compression, collector);
      t.assert.equal(loadTraceReceiver(r.objects).exporter.compression, traces);
    }
  });

  void test('the backend credential reaches the exporters as a reference to the Secret (env or file), never its value', async (t: TestContext) => {
    const envScenario = await renderScenario('collector-root', { release: 'sx', namespace: 'sextant' });
    const fileScenario = await renderScenario('custom-ca', { release: 'sx', namespace: 'sextant' });
    t.assert.deepStrictEqual(configOf(envScenario, 'enrichment')['exporter'], {
      protocol: 'otlp_http',
      endpoint: 'https://otlp.example.com:443',
      compression: 'gzip',
      headers: { Authorization: 'env:SEXTANT_BACKEND_TOKEN' },
    });
    t.assert.deepStrictEqual((configOf(fileScenario, 'trace-receiver')['exporter'] as Record<string, unknown>)['headers'], {
      Authorization: 'file:/etc/sextant/backend/token',
    });
    const fileMount = podTemplates(fileScenario).get('trace-receiver')?.template;
    t.assert.equal(fileMount && mountPath(fileMount, 'backend-credentials'), '/etc/sextant/backend');
    // The components accept both forms.
    t.assert.doesNotThrow(() => loadEnrichment(fileScenario));
    t.assert.doesNotThrow(() => loadTraceReceiver(envScenario, { SEXTANT_BACKEND_TOKEN: 't' }));
  });
});
