// Acceptance (issue 10, audit file): the real kube-apiserver writes its audit log (--audit-log-path) with
// --audit-log-maxsize=1 (MB), so lumberjack rotates it several times under load (audit.log renamed to
// audit-<time>.log, a new audit.log opened). The real node collector (packages/node-collector/src/main.ts, as
// the DaemonSet runs it) tails it with `auditLog` on and ships to the real enrichment service, which exports to
// the real OTel Collector. The collector is SIGKILLed and restarted during the load. At the end every
// (auditID, stage) of all the files must be at the backend at least once (duplicates are counted and printed).
// The same API server also sends every event to the enrichment audit webhook: for each event both paths
// delivered, the records must be the same (attributes, body, severity, time), so a security team sees one
// record shape whichever path it uses.
import { ok as check } from 'node:assert/strict';
import { test } from 'node:test';
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CoreV1Api } from '@kubernetes/client-node';
import { stringify as toYaml } from 'yaml';
import { startCluster, startOtelCollector } from '@sextant/test-env';
import { auditWebhookService, collectorProcess, flatRecords, metricValue, testDir, until } from './helpers.ts';
import type { AuditLine, FlatRecord } from './helpers.ts';

const KILLS = 2;
const MIN_BACKUPS = 6;

void test('audit file: the API server audit log, rotated by --audit-log-maxsize, reaches the backend through collector kills, as the webhook records', { timeout: 300_000 }, async (t) => {
  const { dir, cleanups } = await testDir(t, 'sextant-audit-file-e2e-');
  const backend = await startOtelCollector();
  cleanups.push(() => backend.stop());

  // enrichment: OTLP /v1/logs for the collector, and the audit webhook (HTTPS + bearer token) for the API server;
  // ConfigMaps at RequestResponse (their objects are in the events, so 1 MB fills fast), the rest at Metadata
  const { service, port, apiServerArgs } = await auditWebhookService(dir, backend.httpEndpoint, [{ level: 'RequestResponse', resources: [{ group: '', resources: ['configmaps'] }] }, { level: 'Metadata' }], 'otlp');
  cleanups.push(() => service.kill());
  await service.start();

  const auditDir = join(dir, 'audit');
  await mkdir(auditDir);
  const auditLog = join(auditDir, 'audit.log');

  // the collector first: it tails audit.log from the API server's first line on
  const pods = join(dir, 'pods');
  await mkdir(pods);
  await writeFile(
    join(dir, 'collector.yaml'),
    toYaml({
      log_root: pods,
      node_name: 'control-plane-1',
      checkpoint_dir: join(dir, 'checkpoints'),
      endpoints: [`127.0.0.1:${port}`],
      server: false,
      poll_interval_ms: 200,
      rescan_interval_ms: 1000,
      rotated_close_after_ms: 1000,
      batch: { max_age_ms: 100, max_records: 200 },
      retry: { initial_ms: 50, max_ms: 500 },
      audit_log: { paths: [auditLog] },
    }),
  );
  const collector = await collectorProcess(join(dir, 'collector.yaml'), join(dir, 'collector.log'));
  cleanups.push(() => collector.kill());
  await collector.start();

  const cluster = await startCluster({
    extraApiServerArgs: [...apiServerArgs, `--audit-log-path=${auditLog}`, '--audit-log-format=json', '--audit-log-version=audit.k8s.io/v1', '--audit-log-maxsize=1', '--audit-log-maxbackup=100'],
  });
  cleanups.push(() => cluster.stop());
  const core = cluster.adminClient.makeApiClient(CoreV1Api);
  await cluster.createNamespace('audit-file');

  // Load: three workers create, change and delete 8 KiB ConfigMaps until the log rotated MIN_BACKUPS times;
  // the collector is SIGKILLed and restarted meanwhile.
  const backups = async (): Promise<string[]> => (await readdir(auditDir)).filter((n) => /^audit-.*\.log$/.test(n));
  const data = { v: 'x'.repeat(8 * 1024) };
  let loadDone = false;
  let ops = 0;
  const worker = async (w: number): Promise<void> => {
    for (let i = 0; !loadDone; i++) {
      const name = `cm-${w}-${i}`;
      await core.createNamespacedConfigMap({ namespace: 'audit-file', body: { metadata: { name }, data } });
      await core.replaceNamespacedConfigMap({ name, namespace: 'audit-file', body: { metadata: { name }, data: { ...data, i: String(i) } } });
      await core.deleteNamespacedConfigMap({ name, namespace: 'audit-file' });
      ops += 3;
    }
  };
  const load = Promise.all([0, 1, 2].map(worker));
  const kills: string[] = [];
  for (let k = 0; k < KILLS; k++) {
    await until(`${k + 1} rotation(s) before kill ${k + 1}`, async () => ((await backups()).length > k ? true : undefined), 60_000);
    // the first kill right after a rotation (a renamed file partly read), the next one in the middle of a file
    await new Promise((r) => setTimeout(r, k * 400));
    await collector.kill('SIGKILL');
    kills.push(`after ${(await backups()).length} rotations`);
    await new Promise((r) => setTimeout(r, 500));
    await collector.start();
  }
  await until(`${MIN_BACKUPS} rotated audit files`, async () => ((await backups()).length >= MIN_BACKUPS ? true : undefined), 90_000);
  loadDone = true;
  await load;

  // Ground truth: every file the API server wrote, deduplicated on (auditID, stage).
  const files = [...(await backups()), 'audit.log'];
  const want = new Map<string, AuditLine>();
  let lines = 0;
  for (const f of files) {
    for (const l of (await readFile(join(auditDir, f), 'utf8')).split('\n')) {
      if (l.length === 0) continue;
      const e = JSON.parse(l) as AuditLine;
      want.set(`${e.auditID}/${e.stage}`, e);
      lines++;
    }
  }
  check(files.length - 1 >= MIN_BACKUPS, `the API server rotated its log (${files.length - 1} audit-*.log files)`);
  check(want.size > ops, `the files hold more audit events (${want.size}) than the test made requests (${ops})`);

  const fromFile = new Map<string, FlatRecord[]>();
  const fromWebhook = new Map<string, FlatRecord>();
  let missing: string[] = [];
  await until(
    'every audit event of the files at the backend, through the collector',
    async () => {
      fromFile.clear();
      fromWebhook.clear();
      for (const r of flatRecords(await backend.readOutput())) {
        if (r.scope !== 'sextant.k8s.audit') continue;
        const key = `${r.attributes['k8s.audit.id']}/${r.attributes['k8s.audit.stage']}`;
        if (r.resource['log.file.path'] === undefined) fromWebhook.set(key, r);
        else fromFile.set(key, [...(fromFile.get(key) ?? []), r]);
      }
      missing = [...want.keys()].filter((k) => !fromFile.has(k));
      return missing.length === 0 ? true : undefined;
    },
    60_000,
    1000,
  ).catch(() => undefined);
  const dupes = [...fromFile.values()].filter((rs) => rs.length > 1).length;
  t.diagnostic(
    `audit files: ${files.length} (${lines} lines, ${want.size} distinct events); test requests: ${ops}; ` +
      `through the collector: ${fromFile.size} distinct, ${dupes} delivered more than once; collector kills: ${kills.join(', ')}; ` +
      `through the webhook: ${fromWebhook.size}`,
  );
  t.assert.deepEqual(missing.slice(0, 20), [], `${missing.length} audit events of the files never reached the backend through the collector`);

  // enrichment passed the collector's audit resources (no pod key) straight through, never waiting for a pod
  const m = await service.metrics();
  t.assert.equal(metricValue(m, 'sextant_enrichment_metadata_misses_total', 'reason="not_found_after_wait"'), 0, 'no audit batch waited for pod metadata');
  check(metricValue(m, 'sextant_enrichment_metadata_misses_total', 'reason="no_key"') > 0, 'audit resources counted as having no pod key');

  // the file records name the node and the file; user, verb, object intact
  const sample = [...fromFile.values()].map((rs) => rs[0] as FlatRecord);
  check(sample.every((r) => r.resource['k8s.node.name'] === 'control-plane-1' && r.resource['service.name'] === 'kube-apiserver' && (r.resource['log.file.path'] ?? '').startsWith(auditDir)));
  for (const r of sample) {
    const e = want.get(`${r.attributes['k8s.audit.id']}/${r.attributes['k8s.audit.stage']}`);
    if (e === undefined) continue;
    t.assert.equal(r.attributes['k8s.audit.user.username'], e.user.username);
    t.assert.equal(r.attributes['k8s.audit.verb'], e.verb);
    t.assert.equal(r.attributes['k8s.audit.object_ref.name'], e.objectRef?.name);
  }

  // the same event through either path is the same record
  let compared = 0;
  for (const [key, w] of fromWebhook) {
    const f = fromFile.get(key)?.[0];
    if (f === undefined) continue;
    compared++;
    t.assert.deepEqual(f.attributes, w.attributes, `attributes of ${key}`);
    t.assert.equal(f.body, w.body, `body of ${key}`);
    t.assert.equal(f.severityNumber, w.severityNumber, `severity of ${key}`);
    t.assert.equal(f.timeUnixNano, w.timeUnixNano, `time of ${key}`);
  }
  t.diagnostic(`records compared between the file and the webhook path: ${compared}`);
  check(compared > want.size / 2, `most events came through both paths (${compared} of ${want.size})`);
});
