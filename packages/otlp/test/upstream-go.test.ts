// Acceptance 2: what we encode decodes with upstream's own generated code (Go,
// go.opentelemetry.io/proto/otlp) to the same content, for data that sets every field.
import { test } from 'node:test';
import type { TestContext } from 'node:test';
import { create, toJson } from '@bufbuild/protobuf';
import type { DescMessage, Message } from '@bufbuild/protobuf';
import {
  ExportLogsServiceRequestSchema,
  ExportLogsServiceResponseSchema,
  ExportMetricsServiceRequestSchema,
  ExportMetricsServiceResponseSchema,
  ExportTraceServiceRequestSchema,
  ExportTraceServiceResponseSchema,
  encodeLogsRequest,
  encodeLogsResponse,
  encodeMetricsRequest,
  encodeMetricsResponse,
  encodeTraceRequest,
  encodeTraceResponse,
} from '@sextant/otlp';
import { allFields, setFields } from './helpers/coverage.ts';
import { logsRequest, metricsRequest, rng, traceRequest } from './helpers/random.ts';
import { upstreamDecode } from './helpers/upstream.ts';
import type { UpstreamKind } from './helpers/upstream.ts';

const CASES = 150;

function canonical(desc: DescMessage, msg: Message): unknown {
  return JSON.parse(JSON.stringify(toJson(desc, msg, { enumAsInteger: true })));
}

void test('requests we encode decode with upstream Go types to the same content, covering every field', (t: TestContext) => {
  const r = rng(0x5e7a47);
  const cases: { kind: UpstreamKind; desc: DescMessage; msg: Message; bytes: Uint8Array }[] = [];
  const covered = new Set<string>();
  for (let i = 0; i < CASES; i++) {
    const o = { strindex: true };
    const logs = logsRequest(r, o);
    const metrics = metricsRequest(r, o);
    const traces = traceRequest(r, o);
    cases.push({ kind: 'logs-req', desc: ExportLogsServiceRequestSchema, msg: logs, bytes: encodeLogsRequest(logs) });
    cases.push({ kind: 'metrics-req', desc: ExportMetricsServiceRequestSchema, msg: metrics, bytes: encodeMetricsRequest(metrics) });
    cases.push({ kind: 'trace-req', desc: ExportTraceServiceRequestSchema, msg: traces, bytes: encodeTraceRequest(traces) });
    setFields(ExportLogsServiceRequestSchema, logs, covered);
    setFields(ExportMetricsServiceRequestSchema, metrics, covered);
    setFields(ExportTraceServiceRequestSchema, traces, covered);
  }
  const all = new Set([
    ...allFields(ExportLogsServiceRequestSchema),
    ...allFields(ExportMetricsServiceRequestSchema),
    ...allFields(ExportTraceServiceRequestSchema),
  ]);
  const missing = [...all].filter((f) => !covered.has(f));
  t.assert.deepStrictEqual(missing, [], 'generated data must set every field of every request message');

  const results = upstreamDecode(cases.map((c) => ({ kind: c.kind, data: c.bytes })));
  t.assert.strictEqual(results.length, cases.length);
  for (let i = 0; i < cases.length; i++) {
    const res = results[i]!;
    const c = cases[i]!;
    if ('error' in res) t.assert.fail(`upstream could not decode case ${i} (${c.kind}): ${res.error}`);
    t.assert.deepStrictEqual(res.json, canonical(c.desc, c.msg), `case ${i} (${c.kind})`);
  }
});

void test('responses with partial success decode with upstream Go types', (t: TestContext) => {
  const logs = create(ExportLogsServiceResponseSchema, { partialSuccess: { rejectedLogRecords: 12n, errorMessage: 'too old' } });
  const metrics = create(ExportMetricsServiceResponseSchema, { partialSuccess: { rejectedDataPoints: -3n, errorMessage: 'bad unit' } });
  const traces = create(ExportTraceServiceResponseSchema, { partialSuccess: { rejectedSpans: 9007199254740993n, errorMessage: 'dup' } });
  const empty = create(ExportTraceServiceResponseSchema, {});
  const results = upstreamDecode([
    { kind: 'logs-resp', data: encodeLogsResponse(logs) },
    { kind: 'metrics-resp', data: encodeMetricsResponse(metrics) },
    { kind: 'trace-resp', data: encodeTraceResponse(traces) },
    { kind: 'trace-resp', data: encodeTraceResponse(empty) },
  ]);
  t.assert.deepStrictEqual(results, [
    { json: { partialSuccess: { rejectedLogRecords: '12', errorMessage: 'too old' } } },
    { json: { partialSuccess: { rejectedDataPoints: '-3', errorMessage: 'bad unit' } } },
    { json: { partialSuccess: { rejectedSpans: '9007199254740993', errorMessage: 'dup' } } },
    { json: {} },
  ]);
});
