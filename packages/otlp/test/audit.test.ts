// The shared audit event mapping (issue 10): the same event gives the same record whether it comes as a line of
// the API server's audit log file (with TypeMeta) or as an item of a webhook EventList (without).
import { test } from 'node:test';
import { SeverityNumber, auditLogRecord, checkAuditEvent, checkEventList, rfc3339ToUnixNano } from '../src/index.ts';
import type { AuditEvent } from '../src/index.ts';

const item: AuditEvent = {
  level: 'Metadata',
  auditID: 'a-1',
  stage: 'ResponseComplete',
  requestURI: '/api/v1/namespaces/ns/pods/p',
  verb: 'get',
  user: { username: 'alice', groups: ['devs'], extra: { scopes: ['x'] } },
  impersonatedUser: null,
  sourceIPs: ['10.0.0.1'],
  objectRef: { resource: 'pods', namespace: 'ns', name: 'p', apiVersion: 'v1' },
  responseStatus: { code: 404 },
  requestReceivedTimestamp: '2026-11-24T07:00:00.1Z',
  stageTimestamp: '2026-11-24T07:00:00.123456789Z',
  annotations: { 'authorization.k8s.io/decision': 'allow' },
};

void test('audit: a file line with TypeMeta and a webhook item map to the same record', (t) => {
  const line = JSON.parse(JSON.stringify({ kind: 'Event', apiVersion: 'audit.k8s.io/v1', ...item })) as AuditEvent;
  const a = auditLogRecord(line, 5n);
  const b = auditLogRecord(item, 5n);
  t.assert.deepEqual(a, b);
  t.assert.equal(a.body, JSON.stringify(item), 'the body is the event JSON, key order kept, TypeMeta left out');
  t.assert.equal(a.timeUnixNano, 1795503600123456789n);
  t.assert.equal(a.severityNumber, SeverityNumber.WARN);
  const attrs = Object.fromEntries(a.attributes.map((kv) => [kv.key, kv.value]));
  t.assert.equal(attrs['k8s.audit.id'], 'a-1');
  t.assert.equal(attrs['k8s.audit.user.username'], 'alice');
  t.assert.deepEqual(attrs['k8s.audit.user.groups'], ['devs']);
  t.assert.equal(attrs['k8s.audit.response_status.code'], 404n);
  t.assert.equal(attrs['k8s.audit.impersonated_user.username'], undefined);
  t.assert.equal(auditLogRecord({ ...item, stageTimestamp: 'garbage', requestReceivedTimestamp: '' }, 7n).timeUnixNano, 7n, 'no usable time: the observed time');
  t.assert.equal(auditLogRecord({ ...item, responseStatus: { code: 500 } }, 0n).severityNumber, SeverityNumber.ERROR);
  t.assert.equal(auditLogRecord({ ...item, responseStatus: null }, 0n).severityNumber, SeverityNumber.INFO);
  t.assert.equal(rfc3339ToUnixNano('2026-11-24T08:00:00.5+01:00'), 1795503600500000000n);
});

void test('audit: checkAuditEvent says why a value is not an audit Event', (t) => {
  t.assert.equal(checkAuditEvent(item), undefined);
  t.assert.equal(checkAuditEvent({ kind: 'Event', apiVersion: 'audit.k8s.io/v1', ...item }), undefined);
  t.assert.equal(checkAuditEvent([]), 'not a JSON object');
  t.assert.equal(checkAuditEvent({ ...item, kind: 'Pod' }), 'kind "Pod" is not "Event"');
  t.assert.match(checkAuditEvent({ ...item, apiVersion: 'audit.k8s.io/v1beta1' }) ?? '', /apiVersion "audit.k8s.io\/v1beta1" is not "audit.k8s.io\/v1"/);
  t.assert.equal(checkAuditEvent({ ...item, auditID: undefined }), 'no auditID');
  t.assert.equal(checkAuditEvent({ ...item, stage: '' }), 'no stage');
  t.assert.equal(checkEventList({ kind: 'EventList', apiVersion: 'audit.k8s.io/v1', items: [item] }), undefined);
  t.assert.equal(checkEventList({ kind: 'EventList', apiVersion: 'audit.k8s.io/v1', items: [{}] }), 'items[0] has no auditID');
});
