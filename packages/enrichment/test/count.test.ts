import { test } from 'node:test';
import { countRecords as otlpCount } from '@sextant/otlp';
import { logsRequest, metricsRequest } from './helpers.ts';
import { countRecords } from '../src/count.ts';

void test('record counts without decoding match the codec, per resource and in total', (t) => {
  const logs = logsRequest([
    { attributes: [['k8s.pod.uid', 'a']], records: 3 },
    { attributes: [['k8s.pod.uid', 'b']], records: 0 },
    { attributes: [['k8s.pod.uid', 'c']], records: 7 },
  ]);
  t.assert.equal(countRecords('logs', logs), otlpCount(logs, 'logs'));
  t.assert.equal(countRecords('logs', logs), 10);
  t.assert.equal(countRecords('logs', logs, [0, 2]), 10);
  t.assert.equal(countRecords('logs', logs, [2]), 7);
  t.assert.equal(countRecords('logs', logs, []), 0);
  const metrics = metricsRequest([['k8s.pod.uid', 'a']], 5);
  t.assert.equal(countRecords('metrics', metrics), otlpCount(metrics, 'metrics'));
  t.assert.equal(countRecords('metrics', metrics), 5);
  // Coalesced batches are concatenated requests; the count is the sum.
  t.assert.equal(countRecords('logs', Buffer.concat([logs, logs])), 20);
});
