// The audit webhook on real TCP with a real disk queue: bearer token, EventList checks, 200 only
// with the batch in the queue, one OTLP record per audit event with the k8s.audit.* attributes.
import { ok as check } from 'node:assert/strict';
import { test } from 'node:test';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDiskQueue, secretReader, silentLogger } from '@sextant/pipeline';
import { decodeLogsRequest } from '@sextant/otlp';
import type { KeyValueMessage } from '@sextant/otlp';
import { createAuditWebhook } from '../src/audit/webhook.ts';

function attr(list: readonly KeyValueMessage[], key: string): unknown {
  const v = list.find((a) => a.key === key)?.value?.value;
  if (v === undefined) return undefined;
  if (v.case === 'arrayValue') return v.value.values.map((x) => x.value.value);
  return v.value;
}

const event = (id: string, stage: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  level: 'Metadata',
  auditID: id,
  stage,
  requestURI: '/api/v1/namespaces/team-a/configmaps/cfg?fieldManager=kubectl',
  verb: 'update',
  user: { username: 'alice', uid: 'u-1', groups: ['devs', 'system:authenticated'], extra: { scopes: ['a', 'b'] } },
  sourceIPs: ['10.0.0.7', '127.0.0.1'],
  userAgent: 'kubectl/v1.37.2',
  objectRef: { resource: 'configmaps', namespace: 'team-a', name: 'cfg', apiVersion: 'v1', apiGroup: '', subresource: 'status' },
  responseStatus: { metadata: {}, code: 409, status: 'Failure', reason: 'Conflict' },
  requestReceivedTimestamp: '2026-11-24T07:00:00.123456Z',
  stageTimestamp: '2026-11-24T07:00:00.234567Z',
  annotations: { 'authorization.k8s.io/decision': 'allow' },
  ...extra,
});

void test('audit webhook: token, EventList checks, durable 200, one record per audit event', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'sextant-audit-'));
  const cleanups: Array<() => Promise<unknown>> = [() => rm(dir, { recursive: true, force: true })];
  t.after(async () => {
    for (const fn of cleanups.reverse()) await fn();
  });
  const queue = await createDiskQueue({ dir: join(dir, 'q'), maxBytes: 16 * 1024 * 1024 });
  cleanups.push(() => queue.close());
  const tokenFile = join(dir, 'token');
  await writeFile(tokenFile, 'first-token\n');
  const hook = await createAuditWebhook({
    listen: { host: '127.0.0.1', port: 0 },
    maxBodyBytes: 64 * 1024,
    token: secretReader({ fromFile: tokenFile }),
    enqueue: (payload) => queue.enqueue({ signal: 'logs', payload }),
    clusterName: 'unit',
    logger: silentLogger(),
  });
  await hook.start();
  cleanups.push(() => hook.shutdown());
  const url = `http://127.0.0.1:${hook.address()?.port}/v1/audit`;
  const post = (body: unknown, token?: string): Promise<Response> =>
    fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...(token === undefined ? {} : { authorization: `Bearer ${token}` }) }, body: typeof body === 'string' ? body : JSON.stringify(body) });
  const list = { kind: 'EventList', apiVersion: 'audit.k8s.io/v1', metadata: {}, items: [event('id-1', 'ResponseComplete'), event('id-2', 'ResponseStarted', { impersonatedUser: { username: 'bob', groups: ['ops'] } })] };

  t.assert.equal((await post(list)).status, 401, 'no token');
  t.assert.equal((await post(list, 'wrong')).status, 401, 'wrong token');
  t.assert.equal((await post({ ...list, apiVersion: 'audit.k8s.io/v1beta1' }, 'first-token')).status, 400, 'other version');
  t.assert.equal((await post({ ...list, items: [{ stage: 'x' }] }, 'first-token')).status, 400, 'item without auditID');
  t.assert.equal((await post('{"kind":', 'first-token')).status, 400, 'not JSON');
  t.assert.equal((await post({ ...list, items: Array.from({ length: 200 }, (_, i) => event(`big-${i}`, 'ResponseComplete')) }, 'first-token')).status, 413, 'above maxBodyBytes');
  t.assert.equal(queue.stats().depth, 0, 'nothing rejected reached the queue');

  const ok = await post(list, 'first-token');
  t.assert.equal(ok.status, 200);
  t.assert.equal(queue.stats().depth, 1, 'the 200 came with the batch in the queue');

  // The token is re-read when the file changes (Secret rotation).
  await writeFile(tokenFile, 'second-token\n');
  t.assert.equal((await post(list, 'first-token')).status, 401, 'old token after rotation');
  t.assert.equal((await post({ ...list, items: [] }, 'second-token')).status, 200, 'empty batch with the new token');

  const [item] = await queue.lease(1);
  check(item !== undefined);
  t.assert.equal(item.signal, 'logs');
  const req = decodeLogsRequest(item.payload);
  t.assert.equal(req.resourceLogs.length, 1);
  const rl = req.resourceLogs[0];
  const resource = rl?.resource?.attributes ?? [];
  t.assert.equal(attr(resource, 'k8s.cluster.name'), 'unit');
  t.assert.equal(attr(resource, 'service.name'), 'kube-apiserver');
  const records = rl?.scopeLogs[0]?.logRecords ?? [];
  t.assert.equal(records.length, 2, 'one record per audit event');
  const [r1, r2] = records;
  check(r1 !== undefined && r2 !== undefined);
  const a = r1.attributes;
  t.assert.equal(attr(a, 'k8s.audit.id'), 'id-1');
  t.assert.equal(attr(a, 'k8s.audit.stage'), 'ResponseComplete');
  t.assert.equal(attr(a, 'k8s.audit.level'), 'Metadata');
  t.assert.equal(attr(a, 'k8s.audit.verb'), 'update');
  t.assert.equal(attr(a, 'k8s.audit.user.username'), 'alice');
  t.assert.deepEqual(attr(a, 'k8s.audit.user.groups'), ['devs', 'system:authenticated']);
  t.assert.deepEqual(attr(a, 'k8s.audit.source_ips'), ['10.0.0.7', '127.0.0.1']);
  t.assert.equal(attr(a, 'k8s.audit.object_ref.resource'), 'configmaps');
  t.assert.equal(attr(a, 'k8s.audit.object_ref.namespace'), 'team-a');
  t.assert.equal(attr(a, 'k8s.audit.object_ref.name'), 'cfg');
  t.assert.equal(attr(a, 'k8s.audit.object_ref.subresource'), 'status');
  t.assert.equal(attr(a, 'k8s.audit.object_ref.api_group'), undefined, 'the core group is empty and left out');
  t.assert.equal(attr(a, 'k8s.audit.response_status.code'), 409n);
  t.assert.equal(attr(a, 'k8s.audit.request_uri'), '/api/v1/namespaces/team-a/configmaps/cfg?fieldManager=kubectl');
  t.assert.equal(attr(a, 'k8s.audit.user_agent'), 'kubectl/v1.37.2');
  t.assert.equal(attr(a, 'k8s.audit.request_received_timestamp'), '2026-11-24T07:00:00.123456Z');
  t.assert.equal(r1.timeUnixNano, BigInt(Date.parse('2026-11-24T07:00:00Z')) * 1_000_000n + 234_567_000n, 'time is stageTimestamp, to the microsecond');
  t.assert.equal(r1.severityNumber, 13, '409 → WARN');
  t.assert.deepEqual(JSON.parse(r1.body?.value.case === 'stringValue' ? r1.body.value.value : ''), list.items[0], 'the body is the audit event itself');
  t.assert.equal(attr(r2.attributes, 'k8s.audit.impersonated_user.username'), 'bob');
  queue.ack(item.id);
});

void test('audit webhook: answers 503 with Retry-After when the queue cannot store, so the API server retries', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'sextant-audit-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const queue = await createDiskQueue({ dir: join(dir, 'q'), maxBytes: 16 * 1024 * 1024 });
  await queue.close();
  const hook = await createAuditWebhook({
    listen: { host: '127.0.0.1', port: 0 },
    maxBodyBytes: 1024 * 1024,
    token: () => Promise.resolve('tok'),
    enqueue: (payload) => queue.enqueue({ signal: 'logs', payload }),
    logger: silentLogger(),
  });
  await hook.start();
  t.after(() => hook.shutdown());
  const res = await fetch(`http://127.0.0.1:${hook.address()?.port}/v1/audit`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: 'Bearer tok' },
    body: JSON.stringify({ kind: 'EventList', apiVersion: 'audit.k8s.io/v1', items: [event('x', 'ResponseComplete')] }),
  });
  t.assert.equal(res.status, 503);
  t.assert.equal(res.headers.get('retry-after'), '1');
});

void test('audit webhook: mTLS requires a client certificate signed by clientCaFile', async (t) => {
  const { execFileSync } = await import('node:child_process');
  const { readFile } = await import('node:fs/promises');
  const https = await import('node:https');
  const dir = await mkdtemp(join(tmpdir(), 'sextant-audit-mtls-'));
  const cleanups: Array<() => Promise<unknown>> = [() => rm(dir, { recursive: true, force: true })];
  t.after(async () => {
    for (const fn of cleanups.reverse()) await fn();
  });
  const ssl = (...args: string[]): void => {
    execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
  };
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  ssl('req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '1', '-subj', '/CN=audit-ca');
  ssl('req', '-x509', ...ec, '-keyout', 'server.key', '-out', 'server.crt', '-days', '1', '-subj', '/CN=sextant-audit', '-addext', 'subjectAltName=IP:127.0.0.1');
  ssl('req', ...ec, '-keyout', 'client.key', '-out', 'client.csr', '-subj', '/CN=kube-apiserver');
  ssl('x509', '-req', '-in', 'client.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'client.crt', '-days', '1');
  ssl('req', '-x509', ...ec, '-keyout', 'other.key', '-out', 'other.crt', '-days', '1', '-subj', '/CN=intruder');
  const queue = await createDiskQueue({ dir: join(dir, 'q'), maxBytes: 16 * 1024 * 1024 });
  cleanups.push(() => queue.close());
  const hook = await createAuditWebhook({
    listen: { host: '127.0.0.1', port: 0 },
    maxBodyBytes: 1024 * 1024,
    tls: { certFile: join(dir, 'server.crt'), keyFile: join(dir, 'server.key'), clientCaFile: join(dir, 'ca.crt') },
    enqueue: (payload) => queue.enqueue({ signal: 'logs', payload }),
    logger: silentLogger(),
  });
  await hook.start();
  cleanups.push(() => hook.shutdown());
  const body = JSON.stringify({ kind: 'EventList', apiVersion: 'audit.k8s.io/v1', items: [event('m-1', 'ResponseComplete')] });
  const ca = await readFile(join(dir, 'server.crt'));
  const post = async (cert?: string): Promise<number | string> => {
    const tlsOpts = cert === undefined ? {} : { cert: await readFile(join(dir, `${cert}.crt`)), key: await readFile(join(dir, `${cert}.key`)) };
    return new Promise((resolve) => {
      const req = https.request(
        { host: '127.0.0.1', port: hook.address()?.port, path: '/v1/audit', method: 'POST', ca, ...tlsOpts, agent: false, headers: { 'content-type': 'application/json' } },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        },
      );
      req.on('error', (err) => resolve((err as NodeJS.ErrnoException).code ?? 'error'));
      req.end(body);
    });
  };
  t.assert.equal(await post('client'), 200, 'a client certificate from the CA');
  t.assert.equal(typeof (await post()), 'string', 'no client certificate: the handshake fails');
  t.assert.equal(typeof (await post('other')), 'string', 'a certificate from another CA: the handshake fails');
  t.assert.equal(queue.stats().depth, 1, 'only the authenticated batch was stored');
});
