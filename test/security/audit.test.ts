// Acceptance (issue 10, audit webhook): the real kube-apiserver runs with an audit policy, a
// webhook backend (--audit-webhook-config-file, kubeconfig format) pointing at the enrichment
// service's POST /v1/audit with a bearer token, and a log backend (--audit-log-path) that serves as
// the ground truth. ConfigMaps are created, changed and deleted while the service is SIGKILLed and
// restarted on the same ports; every (auditID, stage) in the API server's own log file must reach
// the backend (the real OTel Collector) at least once, with user, verb and object intact.
import { ok as check } from 'node:assert/strict';
import { test } from 'node:test';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CoreV1Api } from '@kubernetes/client-node';
import { startCluster, startOtelCollector } from '@sextant/test-env';
import { auditWebhookService, flatRecords, testDir, until } from './helpers.ts';
import type { AuditLine } from './helpers.ts';

const KILLS = 2;

void test('audit webhook: API-server audit events reach the backend through kills, user/verb/object intact', { timeout: 420_000 }, async (t) => {
  const { dir, cleanups } = await testDir(t, 'sextant-audit-e2e-');
  const backend = await startOtelCollector();
  cleanups.push(() => backend.stop());

  // The service first, on fixed ports: the API server's webhook must reach it from its first request.
  const { service, apiServerArgs } = await auditWebhookService(dir, backend.httpEndpoint, [{ level: 'Metadata' }], 'audit');
  cleanups.push(() => service.kill());
  await service.start();

  const auditLog = join(dir, 'audit.log');
  const cluster = await startCluster({
    extraApiServerArgs: [
      ...apiServerArgs,
      `--audit-log-path=${auditLog}`,
      '--audit-log-format=json',
      '--audit-log-mode=blocking',
      '--audit-webhook-batch-max-size=100',
      // Retries: 5 attempts, waits of 10 s × 1.5^n (≈ 80 s in all, the API server's default), far
      // longer than a restart here; with 5 s (≈ 40 s) one loaded run in four ran out of retries and
      // the API server itself dropped a batch.
      '--audit-webhook-initial-backoff=10s',
    ],
  });
  cleanups.push(() => cluster.stop());
  const core = cluster.adminClient.makeApiClient(CoreV1Api);
  await cluster.createNamespace('audit-load');

  // Load: create, change, delete ConfigMaps; the service is killed and restarted meanwhile.
  let loadDone = false;
  let ops = 0;
  const load = (async () => {
    for (let i = 0; !loadDone; i++) {
      const name = `cm-${i}`;
      await core.createNamespacedConfigMap({ namespace: 'audit-load', body: { metadata: { name }, data: { v: '1' } } });
      await core.replaceNamespacedConfigMap({ name, namespace: 'audit-load', body: { metadata: { name }, data: { v: '2' } } });
      await core.deleteNamespacedConfigMap({ name, namespace: 'audit-load' });
      ops += 3;
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  const outages: string[] = [];
  for (let k = 0; k < KILLS; k++) {
    await new Promise((r) => setTimeout(r, 3000));
    const down = new Date().toISOString();
    await service.kill('SIGKILL');
    await new Promise((r) => setTimeout(r, 500));
    await service.start();
    outages.push(`${down}..${new Date().toISOString()}`);
  }
  await new Promise((r) => setTimeout(r, 3000));
  loadDone = true;
  await load;

  // Ground truth: what the same API server wrote to its log file by now.
  const truth = (await readFile(auditLog, 'utf8'))
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => JSON.parse(l) as AuditLine);
  const want = new Map(truth.map((e) => [`${e.auditID}/${e.stage}`, e]));
  check(want.size > ops, `the log file has more audit events (${want.size}) than the test made requests (${ops})`);

  const seen = new Map<string, number>();
  let missing: string[] = [];
  await until(
    'every audit event of the log file at the backend',
    async () => {
      seen.clear();
      for (const r of flatRecords(await backend.readOutput())) {
        if (r.scope !== 'sextant.k8s.audit') continue;
        const key = `${r.attributes['k8s.audit.id']}/${r.attributes['k8s.audit.stage']}`;
        seen.set(key, (seen.get(key) ?? 0) + 1);
      }
      missing = [...want.keys()].filter((k) => !seen.has(k));
      return missing.length === 0 ? true : undefined;
    },
    120_000,
    1000,
  ).catch(() => undefined);
  const dupes = [...seen.values()].filter((n) => n > 1).length;
  t.diagnostic(`audit events in the API server's log file: ${want.size}; test requests: ${ops}; at the backend: ${seen.size} distinct, ${dupes} delivered more than once; kills: ${KILLS}`);
  if (missing.length > 0) {
    const times = missing.map((k) => want.get(k)).map((e) => `${(e as unknown as { stageTimestamp: string }).stageTimestamp} ${e?.verb} ${e?.objectRef?.resource}`).sort();
    t.diagnostic(`outages: ${outages.join(', ')}; missing: ${times.slice(0, 10).join('; ')} … ${times.slice(-5).join('; ')}; data: ${cluster.dataDir}`);
  }
  t.assert.deepEqual(missing.slice(0, 20), [], `${missing.length} audit events of the log file never reached the backend`);

  // user, verb and object intact: every ConfigMap event at the backend matches the log file's.
  const records = flatRecords(await backend.readOutput()).filter((r) => r.attributes['k8s.audit.object_ref.namespace'] === 'audit-load');
  const verbs = new Set<string>();
  for (const r of records) {
    const e = want.get(`${r.attributes['k8s.audit.id']}/${r.attributes['k8s.audit.stage']}`);
    if (e === undefined) continue;
    verbs.add(r.attributes['k8s.audit.verb'] ?? '');
    t.assert.equal(r.attributes['k8s.audit.user.username'], e.user.username);
    t.assert.equal(r.attributes['k8s.audit.user.groups'], (e.user.groups ?? []).join(','));
    t.assert.equal(r.attributes['k8s.audit.verb'], e.verb);
    t.assert.equal(r.attributes['k8s.audit.object_ref.resource'], e.objectRef?.resource);
    t.assert.equal(r.attributes['k8s.audit.object_ref.name'], e.objectRef?.name);
    t.assert.equal(r.attributes['k8s.audit.response_status.code'], String(e.responseStatus?.code));
    const { kind: _k1, apiVersion: _a1, ...body } = JSON.parse(r.body) as Record<string, unknown>;
    const { kind: _k2, apiVersion: _a2, ...line } = e as unknown as Record<string, unknown>;
    t.assert.deepEqual(body, line, 'the body is the audit event as the API server sent it');
  }
  check(records.some((r) => r.attributes['k8s.audit.user.username'] === 'sextant-test-admin'), 'the admin user is named');
  t.assert.deepEqual([...verbs].filter((v) => ['create', 'update', 'delete'].includes(v)).sort(), ['create', 'delete', 'update']);
});
