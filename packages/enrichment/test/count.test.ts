import { test } from 'node:test';
import { OtlpDecodeError, countRecords as otlpCount } from '@sextant/otlp';
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

void test('a ResourceLogs whose scope holds a field of an impossible wire type is a decode error, not a count of zero', (t) => {
  const logs = logsRequest([{ attributes: [['k8s.pod.uid', 'a']], records: 2 }]);
  // request: 0x0a len { resource 0x0a len {...}, scope_logs 0x12 len { scope 0x0a ... } }
  const bad = Buffer.from(logs);
  // past a tag byte and its length varint; returns [length, position after the varint]
  const head = (pos: number): [number, number] => {
    let len = 0;
    let mul = 1;
    let at = pos + 1;
    for (;;) {
      const b = bad[at++] as number;
      len += (b & 0x7f) * mul;
      if (b < 0x80) return [len, at];
      mul *= 128;
    }
  };
  t.assert.equal(bad[0], 0x0a);
  const [, rlStart] = head(0);
  t.assert.equal(bad[rlStart], 0x0a, 'the resource first');
  const [resLen, resStart] = head(rlStart);
  const scopeLogs = resStart + resLen;
  t.assert.equal(bad[scopeLogs], 0x12, 'then scope_logs');
  const [, at] = head(scopeLogs);
  t.assert.equal(bad[at], 0x0a, 'which starts with its scope');
  bad[at] = 0x0f;
  t.assert.throws(() => countRecords('logs', bad), OtlpDecodeError);
});
