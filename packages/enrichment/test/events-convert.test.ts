// events.k8s.io/v1 Event → OTLP: attributes, severity, count and times, grouping by involved object.
import { ok } from 'node:assert/strict';
import { test } from 'node:test';
import { decodeLogsRequest, rfc3339ToUnixNano as toUnixNano } from '@sextant/otlp';
import type { KeyValueMessage } from '@sextant/otlp';
import { encodeEvents, regardingAttributes } from '../src/events/convert.ts';
import type { KubeEvent } from '../src/events/convert.ts';
import { rvAfter } from '../src/events/source.ts';

function attr(list: readonly KeyValueMessage[], key: string): unknown {
  return list.find((a) => a.key === key)?.value?.value.value;
}

const podEvent: KubeEvent = {
  metadata: { name: 'web-1.17f', namespace: 'shop', uid: 'ev-1', resourceVersion: '120', creationTimestamp: '2026-11-24T07:00:00Z' },
  eventTime: '2026-11-24T07:00:00.500000Z',
  series: { count: 4, lastObservedTime: '2026-11-24T07:05:00.250000Z' },
  reportingController: 'kubelet',
  reportingInstance: 'node-a',
  action: 'Pulling',
  reason: 'BackOff',
  regarding: { kind: 'Pod', name: 'web-1', namespace: 'shop', uid: 'pod-uid-1', apiVersion: 'v1', fieldPath: 'spec.containers{app}' },
  note: 'Back-off pulling image "web:2"',
  type: 'Warning',
};

const deployEvent: KubeEvent = {
  metadata: { name: 'web.18a', namespace: 'shop', uid: 'ev-2', resourceVersion: '121' },
  deprecatedFirstTimestamp: '2026-11-24T06:00:00Z',
  deprecatedLastTimestamp: '2026-11-24T06:30:00Z',
  deprecatedCount: 7,
  deprecatedSource: { component: 'deployment-controller' },
  reason: 'ScalingReplicaSet',
  regarding: { kind: 'Deployment', name: 'web', namespace: 'shop', uid: 'dep-uid' },
  note: 'Scaled up replica set web-5d to 3',
  type: 'Normal',
};

void test('events: one record per event with k8s.event.* / k8s.object.* attributes, severity from type, count and times', (t) => {
  const req = decodeLogsRequest(
    encodeEvents(
      [
        { event: podEvent, resource: [...regardingAttributes(podEvent, 'c1'), { key: 'k8s.deployment.name', value: 'web' }] },
        { event: deployEvent, resource: regardingAttributes(deployEvent, 'c1') },
        { event: { ...podEvent, metadata: { ...podEvent.metadata, uid: 'ev-3' } }, resource: [...regardingAttributes(podEvent, 'c1'), { key: 'k8s.deployment.name', value: 'web' }] },
      ],
      1n,
    ),
  );
  t.assert.equal(req.resourceLogs.length, 2, 'events of one object share a resource');
  const [pod, dep] = req.resourceLogs;
  const pr = pod?.resource?.attributes ?? [];
  t.assert.equal(attr(pr, 'k8s.object.kind'), 'Pod');
  t.assert.equal(attr(pr, 'k8s.object.name'), 'web-1');
  t.assert.equal(attr(pr, 'k8s.object.uid'), 'pod-uid-1');
  t.assert.equal(attr(pr, 'k8s.object.fieldpath'), 'spec.containers{app}');
  t.assert.equal(attr(pr, 'k8s.pod.name'), 'web-1');
  t.assert.equal(attr(pr, 'k8s.pod.uid'), 'pod-uid-1');
  t.assert.equal(attr(pr, 'k8s.namespace.name'), 'shop');
  t.assert.equal(attr(pr, 'k8s.cluster.name'), 'c1');
  t.assert.equal(attr(pr, 'k8s.deployment.name'), 'web');
  const recs = pod?.scopeLogs[0]?.logRecords ?? [];
  t.assert.equal(recs.length, 2);
  const r = recs[0];
  ok(r !== undefined);
  t.assert.equal(r.severityNumber, 13, 'Warning → WARN');
  t.assert.equal(r.severityText, 'Warning');
  t.assert.equal(r.body?.value.value, 'Back-off pulling image "web:2"', 'note is the body');
  t.assert.equal(r.timeUnixNano, toUnixNano('2026-11-24T07:05:00.250000Z'), 'time is series.lastObservedTime');
  t.assert.equal(attr(r.attributes, 'k8s.event.reason'), 'BackOff');
  t.assert.equal(attr(r.attributes, 'k8s.event.type'), 'Warning');
  t.assert.equal(attr(r.attributes, 'k8s.event.action'), 'Pulling');
  t.assert.equal(attr(r.attributes, 'k8s.event.reporting_controller'), 'kubelet');
  t.assert.equal(attr(r.attributes, 'k8s.event.reporting_instance'), 'node-a');
  t.assert.equal(attr(r.attributes, 'k8s.event.count'), 4n, 'series.count');
  t.assert.equal(attr(r.attributes, 'k8s.event.uid'), 'ev-1');
  t.assert.equal(attr(r.attributes, 'k8s.event.start_time'), '2026-11-24T07:00:00.500Z', 'eventTime');

  const dr = dep?.resource?.attributes ?? [];
  t.assert.equal(attr(dr, 'k8s.deployment.name'), 'web');
  t.assert.equal(attr(dr, 'k8s.deployment.uid'), 'dep-uid');
  const d = dep?.scopeLogs[0]?.logRecords[0];
  ok(d !== undefined);
  t.assert.equal(d.severityNumber, 9, 'Normal → INFO');
  t.assert.equal(attr(d.attributes, 'k8s.event.count'), 7n, 'deprecatedCount');
  t.assert.equal(attr(d.attributes, 'k8s.event.reporting_controller'), 'deployment-controller', 'deprecatedSource.component');
  t.assert.equal(d.timeUnixNano, toUnixNano('2026-11-24T06:30:00Z'), 'deprecatedLastTimestamp');
});

void test('resourceVersions compare as integers (KEP-5504); anything else is not comparable', (t) => {
  t.assert.equal(rvAfter('100', '99'), true);
  t.assert.equal(rvAfter('99', '100'), false);
  t.assert.equal(rvAfter('100', '100'), false);
  t.assert.equal(rvAfter('123456789012345678901234567890', '9'), true);
  t.assert.equal(rvAfter('abc', '1'), undefined);
  t.assert.equal(toUnixNano('2026-11-24T07:00:00.123456789Z'), BigInt(Date.parse('2026-11-24T07:00:00Z')) * 1_000_000n + 123_456_789n);
  t.assert.equal(toUnixNano('not a time'), undefined);
});
