// Acceptance 5: the direct log-record encoder's output decodes (ours and upstream Go) to the
// intended records.
import { test } from 'node:test';
import type { TestContext } from 'node:test';
import { toJson } from '@bufbuild/protobuf';
import {
  ExportLogsServiceRequestSchema,
  createLogsEncoder,
  decodeLogsRequest,
  encodeLogsRequest,
  intKv,
  keyValueToMessage,
  stringKv,
} from '@sextant/otlp';
import type { KeyValue, LogRecordInput, LogsRequestInit, SeverityNumber } from '@sextant/otlp';
import { upstreamDecode } from './helpers/upstream.ts';

const podAttrs: KeyValue[] = [
  stringKv('k8s.namespace.name', 'default'),
  stringKv('k8s.pod.name', 'web-7d9f'),
  stringKv('k8s.pod.uid', '2d2b5a4e-0000-4000-8000-000000000001'),
  intKv('k8s.container.restart_count', 2),
];

/** What the encoder's input means, built as a message the generated code encodes. */
function expected(resources: { attrs: KeyValue[]; scope?: [string, string]; records: LogRecordInput[] }[]): LogsRequestInit {
  return {
    resourceLogs: resources.map((r) => ({
      ...(r.attrs.length > 0 ? { resource: { attributes: r.attrs.map(keyValueToMessage) } } : {}),
      scopeLogs: [
        {
          ...(r.scope ? { scope: { name: r.scope[0], version: r.scope[1] } } : {}),
          logRecords: r.records.map((rec) => ({
            timeUnixNano: rec.timeUnixNano,
            observedTimeUnixNano: rec.observedTimeUnixNano ?? 0n,
            severityNumber: (rec.severityNumber ?? 0) as SeverityNumber,
            severityText: rec.severityText ?? '',
            body:
              rec.body instanceof Uint8Array
                ? { value: { case: 'stringValue' as const, value: Buffer.from(rec.body).toString('utf8') } }
                : { value: { case: 'bytesValue' as const, value: rec.body.bytes } },
            attributes: (rec.attributes ?? []).map(keyValueToMessage),
            droppedAttributesCount: rec.droppedAttributesCount ?? 0,
            flags: rec.flags ?? 0,
            traceId: rec.traceId ?? new Uint8Array(0),
            spanId: rec.spanId ?? new Uint8Array(0),
            eventName: rec.eventName ?? '',
          })),
        },
      ],
    })),
  };
}

function records(n: number, start: number): LogRecordInput[] {
  const out: LogRecordInput[] = [];
  for (let i = 0; i < n; i++) {
    const line = i % 7 === 3 ? Buffer.from(`ünïcödé line ${start + i} 😀 `) : Buffer.from(`plain line ${start + i} with trailing space `);
    out.push({
      timeUnixNano: 1_700_000_000_000_000_000n + BigInt(start + i),
      ...(i % 2 === 0 ? { observedTimeUnixNano: 1_700_000_000_500_000_000n + BigInt(i) } : {}),
      ...(i % 3 === 0 ? { severityNumber: 9, severityText: 'INFO' } : {}),
      body: i % 5 === 4 ? { bytes: new Uint8Array([0xff, 0xfe, i & 0xff]) } : line,
      attributes: i % 4 === 0 ? [stringKv('log.iostream', 'stderr'), { key: 'log.record.truncated', value: true }] : [stringKv('log.iostream', 'stdout')],
      ...(i % 6 === 0 ? { flags: 1, traceId: new Uint8Array(16).fill(i + 1), spanId: new Uint8Array(8).fill(2) } : {}),
      ...(i % 9 === 0 ? { eventName: 'k8s.event', droppedAttributesCount: 3 } : {}),
    });
  }
  return out;
}

void test('direct encoder output decodes with our decoder and upstream Go to the intended records', (t: TestContext) => {
  const enc = createLogsEncoder({ initialSize: 64 }); // tiny on purpose: exercises growth
  const batches = [
    [{ attrs: podAttrs, scope: ['sextant.node-collector', '0.1.0'] as [string, string], records: records(300, 0) }],
    [
      { attrs: podAttrs.slice(0, 2), scope: ['s', ''] as [string, string], records: records(2, 1000) },
      { attrs: [], records: records(1, 2000) },
      { attrs: [stringKv('big', 'x'.repeat(20_000))], records: records(40, 3000) },
    ],
  ];
  const encoded: Uint8Array[] = [];
  for (const batch of batches) {
    for (const r of batch) {
      enc.beginResource(r.attrs);
      if (r.scope) enc.beginScope(r.scope[0], r.scope[1]);
      for (const rec of r.records) enc.addRecord(rec);
    }
    t.assert.strictEqual(enc.recordCount, batch.reduce((n, r) => n + r.records.length, 0));
    const bytes = enc.finish();
    t.assert.strictEqual(enc.recordCount, 0, 'finish resets');
    encoded.push(bytes);
    const want = expected(batch);
    t.assert.deepStrictEqual(decodeLogsRequest(bytes), decodeLogsRequest(encodeLogsRequest(want)));
    // same bytes as the generated encoder, since both write fields in number order
    t.assert.deepStrictEqual(bytes, encodeLogsRequest(want));
  }
  const up = upstreamDecode(encoded.map((data) => ({ kind: 'logs-req' as const, data })));
  for (let i = 0; i < encoded.length; i++) {
    const res = up[i]!;
    if ('error' in res) t.assert.fail(res.error);
    const want = JSON.parse(JSON.stringify(toJson(ExportLogsServiceRequestSchema, decodeLogsRequest(encodeLogsRequest(expected(batches[i]!))), { enumAsInteger: true }))) as unknown;
    t.assert.deepStrictEqual(res.json, want);
  }
});

void test('records added before any beginResource/beginScope land in an empty resource and scope; reset discards', (t: TestContext) => {
  const enc = createLogsEncoder();
  enc.addRecord({ timeUnixNano: 1n, body: Buffer.from('x') });
  enc.reset();
  t.assert.strictEqual(enc.finish().length, 0);
  enc.addRecord({ timeUnixNano: 0n, body: Buffer.from('') });
  const d = decodeLogsRequest(enc.finish());
  t.assert.strictEqual(d.resourceLogs.length, 1);
  t.assert.strictEqual(d.resourceLogs[0]!.resource, undefined);
  t.assert.deepStrictEqual(d.resourceLogs[0]!.scopeLogs[0]!.logRecords[0]!.body?.value, { case: 'stringValue', value: '' });
});
