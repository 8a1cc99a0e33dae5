// The API-server audit log file source (issue 10 part 2): config validation; each line of a real file becomes the
// record the enrichment audit webhook makes of the same event (shared mapping in @sextant/otlp); bad lines are
// counted and not shipped; lumberjack-style rotation (rename to audit-<time>.log, new audit.log, old backups
// deleted) under writes, across a collector restart, loses nothing.
import { test } from 'node:test';
import type { TestContext } from 'node:test';
import { appendFile, mkdir, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { auditLogRecord, keyValueFromMessage } from '@sextant/otlp';
import type { AuditEvent, ExportLogsServiceRequest } from '@sextant/otlp';
import { createNodeCollector, resolveConfig } from '../src/index.ts';
import type { NodeCollector } from '../src/index.ts';
import { startLogsSink } from './helpers/sink.ts';
import { metricValue, tempDir, testConfig, waitFor } from './helpers/util.ts';

function auditEvent(i: number, stage = 'ResponseComplete'): Record<string, unknown> {
  return {
    kind: 'Event',
    apiVersion: 'audit.k8s.io/v1',
    level: 'Metadata',
    auditID: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
    stage,
    requestURI: `/api/v1/namespaces/team-a/configmaps/cm-${i}`,
    verb: i % 3 === 0 ? 'delete' : 'update',
    user: { username: 'alice', uid: 'u-1', groups: ['devs', 'system:authenticated'], extra: { scopes: ['a', 'b'] } },
    sourceIPs: ['10.0.0.7'],
    userAgent: 'kubectl/v1.37.2',
    objectRef: { resource: 'configmaps', namespace: 'team-a', name: `cm-${i}`, apiVersion: 'v1' },
    responseStatus: { metadata: {}, code: i % 7 === 0 ? 409 : 200 },
    requestReceivedTimestamp: '2026-11-24T07:00:00.123456Z',
    stageTimestamp: '2026-11-24T07:00:00.234567Z',
    annotations: { 'authorization.k8s.io/decision': 'allow', 'authorization.k8s.io/reason': '' },
  };
}

interface Sink {
  endpoint: string;
  requests: ExportLogsServiceRequest[];
}

async function startSink(t: TestContext): Promise<Sink> {
  const requests: ExportLogsServiceRequest[] = [];
  const endpoint = await startLogsSink(t, (req) => requests.push(req));
  return { endpoint, requests };
}

/** (auditID/stage) → times seen, over every audit record the sink got. */
function seen(sink: Sink): Map<string, number> {
  const m = new Map<string, number>();
  for (const req of sink.requests) {
    for (const rl of req.resourceLogs) {
      for (const sl of rl.scopeLogs) {
        for (const r of sl.logRecords) {
          const str = (key: string): string => {
            const v = r.attributes.find((kv) => kv.key === key)?.value?.value;
            return v?.case === 'stringValue' ? v.value : '';
          };
          const k = `${str('k8s.audit.id')}/${str('k8s.audit.stage')}`;
          m.set(k, (m.get(k) ?? 0) + 1);
        }
      }
    }
  }
  return m;
}

void test('auditLog config: off by default, true or a section, errors name the key, the value and what is valid', (t) => {
  const base = { endpoints: ['127.0.0.1:1'] };
  t.assert.equal(resolveConfig(base, {}).auditLog, false);
  t.assert.deepEqual(resolveConfig({ ...base, auditLog: true }, {}).auditLog, { paths: ['/var/log/kubernetes/audit/audit.log'], startAt: 'beginning', maxLineBytes: 16 << 20 });
  t.assert.deepEqual(resolveConfig({ ...base, audit_log: { paths: ['/a/audit.log', '/b/x.json'], start_at: 'end' } }, {}).auditLog, { paths: ['/a/audit.log', '/b/x.json'], startAt: 'end', maxLineBytes: 16 << 20 });
  t.assert.equal(resolveConfig({ ...base, auditLog: { enabled: false, paths: ['/a/audit.log'] } }, {}).auditLog, false);
  const cases: Array<[unknown, RegExp]> = [
    [{ startAt: 'middle' }, /auditLog\.startAt="middle"; valid: beginning, end/],
    [{ paths: [] }, /auditLog\.paths=\[\]; valid: a non-empty list/],
    [{ paths: ['audit.log'] }, /auditLog\.paths\[0\]="audit\.log"; valid: an absolute path/],
    [{ paths: ['/var/log/audit/'] }, /auditLog\.paths\[0\]="\/var\/log\/audit\/"; valid: an absolute path/],
    [{ paths: ['/a.log', '/a.log'] }, /auditLog\.paths\[1\]="\/a\.log"; valid: each path once/],
    [{ path: '/a.log' }, /auditLog\.path="\/a\.log"; valid: enabled, paths, startAt, maxLineBytes/],
    [{ maxLineBytes: 10 }, /auditLog\.maxLineBytes=10; valid: an integer >= 1024/],
    ['yes', /auditLog="yes"; valid: true, false or \{enabled, paths, startAt, maxLineBytes\}/],
  ];
  for (const [v, message] of cases) {
    t.assert.throws(() => resolveConfig({ ...base, auditLog: v }, {}), { code: 'SEXTANT_COLLECTOR_CONFIG_INVALID', message });
  }
});

void test('auditLog: each line becomes the webhook record of that event; bad lines are counted, not shipped', { timeout: 60_000 }, async (t) => {
  const pods = await tempDir(t, 'audit-pods-');
  const dir = await tempDir(t, 'audit-dir-');
  const ckpt = await tempDir(t, 'audit-ckpt-');
  const sink = await startSink(t);
  const events = [auditEvent(1, 'RequestReceived'), auditEvent(1), auditEvent(7), { ...auditEvent(3), impersonatedUser: { username: 'bob', groups: ['ops'] }, responseStatus: { code: 503 } }];
  const bad = ['not json at all', '{"kind":"Event","apiVersion":"audit.k8s.io/v1"}', '{"kind":"Pod","auditID":"x","stage":"ResponseComplete"}', '[1,2]'];
  const text = [JSON.stringify(events[0]), bad[0], JSON.stringify(events[1]), '', bad[1], JSON.stringify(events[2]), bad[2], bad[3], JSON.stringify(events[3])].join('\n');
  await writeFile(join(dir, 'audit.log'), `${text}\n`);
  const c = createNodeCollector(testConfig(pods, ckpt, [sink.endpoint], { auditLog: { paths: [join(dir, 'audit.log')] } }));
  t.after(() => c.shutdown());
  await c.start();
  await waitFor(() => seen(sink).size === 4, 20_000, 'the four audit events');
  const metrics = await (await fetch(`http://127.0.0.1:${c.statusAddress()?.port}/metrics`)).text();
  t.assert.equal(metricValue(metrics, 'sextant_node_collector_auditlog_lines_total'), 8, 'lines read (the empty one is not a line)');
  t.assert.equal(metricValue(metrics, 'sextant_node_collector_auditlog_bad_lines_total', '{reason="json"}'), 1);
  t.assert.equal(metricValue(metrics, 'sextant_node_collector_auditlog_bad_lines_total', '{reason="not_audit_event"}'), 3);
  t.assert.equal(metricValue(metrics, 'sextant_node_collector_auditlog_records_total', '{result="ok"}'), 4);
  t.assert.equal(metricValue(metrics, 'sextant_node_collector_auditlog_files_total'), 1);

  const got = sink.requests.flatMap((req) => req.resourceLogs.flatMap((rl) => rl.scopeLogs.flatMap((sl) => sl.logRecords.map((r) => ({ rl, sl, r })))));
  t.assert.equal(got.length, 4, 'only the audit events were shipped');
  for (const [i, { rl, sl, r }] of got.entries()) {
    const ev = events[i] as AuditEvent;
    const want = auditLogRecord(ev, r.observedTimeUnixNano);
    t.assert.equal(sl.scope?.name, 'sextant.k8s.audit', 'the webhook scope');
    const res = Object.fromEntries((rl.resource?.attributes ?? []).map((kv) => [kv.key, kv.value?.value.value]));
    t.assert.deepEqual(res, { 'service.name': 'kube-apiserver', 'k8s.node.name': 'node-a', 'log.file.path': join(dir, 'audit.log') });
    t.assert.equal(r.timeUnixNano, want.timeUnixNano);
    t.assert.equal(r.severityNumber, want.severityNumber);
    t.assert.equal(r.body?.value.case, 'stringValue');
    t.assert.equal(r.body?.value.value, want.body);
    t.assert.deepEqual(r.attributes.map(keyValueFromMessage), want.attributes, 'the same attributes as the webhook');
    const { kind: _k, apiVersion: _a, ...rest } = ev;
    t.assert.deepEqual(JSON.parse(r.body?.value.case === 'stringValue' ? r.body.value.value : ''), rest, 'the body is the event without its TypeMeta');
  }
  t.assert.equal(got[3]?.r.severityNumber, 17, '5xx is ERROR');
  t.assert.equal(got[2]?.r.severityNumber, 13, '4xx is WARN');
});

/** Appends events like the API server (lumberjack): at `rotateBytes`, audit.log → audit-<time>.log, a new audit.log, at most `keep` backups. */
function auditWriter(dir: string, rotateBytes: number, keep: number): { write(from: number, to: number): Promise<void>; rotations: number } {
  let size = 0;
  let clock = Date.parse('2026-11-24T07:00:00Z');
  const w = {
    rotations: 0,
    async write(from: number, to: number) {
      for (let i = from; i < to; i++) {
        const line = `${JSON.stringify(auditEvent(i))}\n`;
        if (size + line.length > rotateBytes) {
          clock += 1;
          const stamp = new Date(clock).toISOString().replace(/:/g, '-').replace('Z', '');
          await rename(join(dir, 'audit.log'), join(dir, `audit-${stamp}.log`));
          await writeFile(join(dir, 'audit.log'), '');
          size = 0;
          w.rotations++;
          const backups = (await readdir(dir)).filter((n) => n.startsWith('audit-')).sort();
          for (const old of backups.slice(0, Math.max(0, backups.length - keep))) await rm(join(dir, old));
        }
        await appendFile(join(dir, 'audit.log'), line);
        size += line.length;
        if (i % 50 === 0) await new Promise((r) => setTimeout(r, 1));
      }
    },
  };
  return w;
}

void test('auditLog: rotation by rename under writes and a restart in the middle lose nothing', { timeout: 90_000 }, async (t) => {
  const pods = await tempDir(t, 'audit-pods-');
  const dir = await tempDir(t, 'audit-rot-');
  const ckpt = await tempDir(t, 'audit-ckpt-');
  const sink = await startSink(t);
  const cfg = testConfig(pods, ckpt, [sink.endpoint], { auditLog: { paths: [join(dir, 'audit.log')] }, batch: { maxAgeMs: 50, maxRecords: 100 } });
  const writer = auditWriter(dir, 64 * 1024, 8);
  await writer.write(0, 500); // files present before the first start
  let c: NodeCollector = createNodeCollector(cfg);
  t.after(() => c.shutdown());
  await c.start();
  await writer.write(500, 3000);
  await c.shutdown();
  await writer.write(3000, 3400); // written while the collector is down: read from the checkpoints
  c = createNodeCollector(cfg);
  await c.start();
  await writer.write(3400, 6000);
  const total = 6000;
  await waitFor(() => seen(sink).size === total, 30_000, `all ${total} events`).catch(() => undefined);
  const s = seen(sink);
  const missing = [...Array(total).keys()].filter((i) => !s.has(`${String(auditEvent(i).auditID)}/ResponseComplete`));
  const dupes = [...s.values()].filter((n) => n > 1).length;
  t.diagnostic(`events ${total}, rotations ${writer.rotations}, delivered ${s.size} distinct, ${dupes} more than once`);
  t.assert.equal(writer.rotations >= 10, true, `the writer rotated (${writer.rotations})`);
  t.assert.deepEqual(missing.slice(0, 10), [], `${missing.length} events never arrived`);
  t.assert.equal(dupes, 0, 'a clean shutdown and restart resends nothing');
});

void test('auditLog: start_at end skips what a file held at the first start; a directory created later is read from its first line', { timeout: 60_000 }, async (t) => {
  const pods = await tempDir(t, 'audit-pods-');
  const root = await tempDir(t, 'audit-late-');
  const ckpt = await tempDir(t, 'audit-ckpt-');
  const sink = await startSink(t);
  const a = join(root, 'a');
  const b = join(root, 'b'); // does not exist yet
  await mkdir(a);
  await writeFile(join(a, 'audit.log'), `${JSON.stringify(auditEvent(1))}\n${JSON.stringify(auditEvent(2))}\n`);
  const c = createNodeCollector(testConfig(pods, ckpt, [sink.endpoint], { rescanIntervalMs: 200, auditLog: { paths: [join(a, 'audit.log'), join(b, 'audit.log')], startAt: 'end' } }));
  t.after(() => c.shutdown());
  await c.start();
  await appendFile(join(a, 'audit.log'), `${JSON.stringify(auditEvent(3))}\n`);
  await mkdir(b);
  await writeFile(join(b, 'audit.log'), `${JSON.stringify(auditEvent(4))}\n${JSON.stringify(auditEvent(5))}\n`);
  const id = (i: number): string => `${String(auditEvent(i).auditID)}/ResponseComplete`;
  await waitFor(() => seen(sink).size >= 3, 20_000, 'the new lines of a and all lines of b');
  await new Promise((r) => setTimeout(r, 300));
  t.assert.deepEqual([...seen(sink).keys()].sort(), [id(3), id(4), id(5)]);
});
