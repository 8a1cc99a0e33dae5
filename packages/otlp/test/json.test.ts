// OTLP/JSON as the OTLP spec defines it: lowerCamelCase keys, hex trace/span ids, 64-bit integers as
// strings (numbers accepted), enums as integers, unknown fields ignored.
import { test } from 'node:test';
import type { TestContext } from 'node:test';
import {
  OtlpDecodeError,
  decodeLogsRequest,
  decodeLogsRequestJson,
  decodeMetricsRequest,
  decodeMetricsRequestJson,
  decodeTraceRequest,
  decodeTraceRequestJson,
  decodeTraceResponseJson,
  encodeLogsRequest,
  encodeLogsRequestJson,
  encodeMetricsRequest,
  encodeMetricsRequestJson,
  encodeTraceRequest,
  encodeTraceRequestJson,
} from '@sextant/otlp';
import { logsRequest, metricsRequest, rng, traceRequest } from './helpers/random.ts';

void test('JSON encode → decode round-trips random requests of every signal', (t: TestContext) => {
  const r = rng(0x150);
  for (let i = 0; i < 100; i++) {
    const l = decodeLogsRequest(encodeLogsRequest(logsRequest(r, { strindex: true })));
    t.assert.deepStrictEqual(decodeLogsRequestJson(encodeLogsRequestJson(l)), l);
    const m = decodeMetricsRequest(encodeMetricsRequest(metricsRequest(r, { strindex: true })));
    t.assert.deepStrictEqual(decodeMetricsRequestJson(encodeMetricsRequestJson(m)), m);
    const s = decodeTraceRequest(encodeTraceRequest(traceRequest(r, { strindex: true })));
    t.assert.deepStrictEqual(decodeTraceRequestJson(new TextEncoder().encode(encodeTraceRequestJson(s))), s);
  }
});

void test('JSON output uses hex ids, string int64, integer enums and camelCase keys', (t: TestContext) => {
  const json = encodeTraceRequestJson({
    resourceSpans: [
      {
        scopeSpans: [
          {
            spans: [
              {
                traceId: Buffer.from('5b8efff798038103d269b633813fc60c', 'hex'),
                spanId: Buffer.from('eee19b7ec3c1b174', 'hex'),
                parentSpanId: Buffer.from('eee19b7ec3c1b173', 'hex'),
                name: 'GET /',
                kind: 2,
                startTimeUnixNano: 1544712660000000000n,
                links: [{ traceId: Buffer.from('00000000000000000000000000000001', 'hex'), spanId: Buffer.from('0000000000000002', 'hex') }],
                attributes: [{ key: 'n', value: { value: { case: 'intValue', value: 9007199254740993n } } }],
                status: { code: 2 },
              },
            ],
          },
        ],
      },
    ],
  });
  const doc = JSON.parse(json) as { resourceSpans: [{ scopeSpans: [{ spans: [Record<string, unknown>] }] }] };
  const span = doc.resourceSpans[0].scopeSpans[0].spans[0];
  t.assert.strictEqual(span['traceId'], '5b8efff798038103d269b633813fc60c');
  t.assert.strictEqual(span['spanId'], 'eee19b7ec3c1b174');
  t.assert.strictEqual(span['parentSpanId'], 'eee19b7ec3c1b173');
  t.assert.strictEqual(span['startTimeUnixNano'], '1544712660000000000');
  t.assert.strictEqual(span['kind'], 2);
  t.assert.deepStrictEqual(span['status'], { code: 2 });
  t.assert.deepStrictEqual(span['links'], [{ traceId: '00000000000000000000000000000001', spanId: '0000000000000002' }]);
  t.assert.deepStrictEqual(span['attributes'], [{ key: 'n', value: { intValue: '9007199254740993' } }]);
});

// Shaped like the OTel Collector's OTLP/JSON output (see the OTLP spec's JSON examples), plus
// what the spec allows a sender to vary: int64 as numbers, enum names, unknown fields, upper-case hex.
const collectorLogs = `{
  "resourceLogs": [{
    "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "my.service"}}], "droppedAttributesCount": 1},
    "scopeLogs": [{
      "scope": {"name": "my.library", "version": "1.0.0", "attributes": [{"key": "my.scope.attribute", "value": {"stringValue": "some scope attribute"}}]},
      "logRecords": [{
        "timeUnixNano": "1544712660300000000",
        "observedTimeUnixNano": 1544712660300000001,
        "severityNumber": 10,
        "severityText": "Information",
        "traceId": "5B8EFFF798038103D269B633813FC60C",
        "spanId": "eee19b7ec3c1b174",
        "flags": 1,
        "eventName": "my.event",
        "body": {"stringValue": "Example log record"},
        "attributes": [
          {"key": "string.attribute", "value": {"stringValue": "some string"}},
          {"key": "boolean.attribute", "value": {"boolValue": true}},
          {"key": "int.attribute", "value": {"intValue": "10"}},
          {"key": "int.number", "value": {"intValue": 11}},
          {"key": "double.attribute", "value": {"doubleValue": 637.704}},
          {"key": "array.attribute", "value": {"arrayValue": {"values": [{"stringValue": "many"}, {"stringValue": "values"}]}}},
          {"key": "map.attribute", "value": {"kvlistValue": {"values": [{"key": "some.map.key", "value": {"stringValue": "some value"}}]}}},
          {"key": "bytes.attribute", "value": {"bytesValue": "AAEC"}}
        ],
        "someFutureField": {"x": 1}
      }]
    }],
    "schemaUrl": "https://opentelemetry.io/schemas/1.30.0"
  }]
}`;

void test('decodes Collector-style OTLP/JSON, accepting what the spec allows', (t: TestContext) => {
  const d = decodeLogsRequestJson(collectorLogs);
  const rl = d.resourceLogs[0]!;
  t.assert.strictEqual(rl.schemaUrl, 'https://opentelemetry.io/schemas/1.30.0');
  t.assert.strictEqual(rl.resource?.droppedAttributesCount, 1);
  const rec = rl.scopeLogs[0]!.logRecords[0]!;
  t.assert.strictEqual(rec.timeUnixNano, 1544712660300000000n);
  t.assert.strictEqual(rec.observedTimeUnixNano, 1544712660300000001n);
  t.assert.strictEqual(rec.severityNumber, 10);
  t.assert.strictEqual(Buffer.from(rec.traceId).toString('hex'), '5b8efff798038103d269b633813fc60c');
  t.assert.strictEqual(Buffer.from(rec.spanId).toString('hex'), 'eee19b7ec3c1b174');
  t.assert.strictEqual(rec.flags, 1);
  t.assert.strictEqual(rec.eventName, 'my.event');
  const attrs = new Map(rec.attributes.map((a) => [a.key, a.value?.value]));
  t.assert.deepStrictEqual(attrs.get('int.attribute'), { case: 'intValue', value: 10n });
  t.assert.deepStrictEqual(attrs.get('int.number'), { case: 'intValue', value: 11n });
  t.assert.deepStrictEqual(attrs.get('bytes.attribute'), { case: 'bytesValue', value: new Uint8Array([0, 1, 2]) });
  t.assert.strictEqual(attrs.get('map.attribute')?.case, 'kvlistValue');

  const m = decodeMetricsRequestJson(
    '{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"m","sum":{"aggregationTemporality":2,"isMonotonic":true,"dataPoints":[{"asInt":"5","timeUnixNano":"1","exemplars":[{"traceId":"000102030405060708090a0b0c0d0e0f","spanId":"0001020304050607","asDouble":1.5}]}]}}]}]}]}',
  );
  const point = m.resourceMetrics[0]!.scopeMetrics[0]!.metrics[0]!.data;
  t.assert.strictEqual(point.case, 'sum');
  if (point.case === 'sum') {
    t.assert.deepStrictEqual(point.value.dataPoints[0]!.value, { case: 'asInt', value: 5n });
    t.assert.strictEqual(Buffer.from(point.value.dataPoints[0]!.exemplars[0]!.traceId).toString('hex'), '000102030405060708090a0b0c0d0e0f');
  }
  const s = decodeTraceRequestJson('{"resourceSpans":[{"scopeSpans":[{"spans":[{"name":"x","kind":"SPAN_KIND_SERVER","parentSpanId":""}]}]}]}');
  t.assert.strictEqual(s.resourceSpans[0]!.scopeSpans[0]!.spans[0]!.kind, 2);
  t.assert.strictEqual(decodeTraceResponseJson('{}').partialSuccess, undefined);
});

void test('bad OTLP/JSON fails with OtlpDecodeError codes', (t: TestContext) => {
  const code = (fn: () => unknown): string => {
    try {
      fn();
    } catch (err) {
      if (err instanceof OtlpDecodeError) return err.code;
      throw err;
    }
    return 'no error';
  };
  t.assert.strictEqual(code(() => decodeLogsRequestJson('{')), 'SEXTANT_OTLP_JSON');
  t.assert.strictEqual(code(() => decodeLogsRequestJson('[]')), 'SEXTANT_OTLP_JSON');
  t.assert.strictEqual(code(() => decodeLogsRequestJson('{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"traceId":"zz"}]}]}]}')), 'SEXTANT_OTLP_JSON');
  t.assert.strictEqual(code(() => decodeLogsRequestJson('{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"timeUnixNano":"abc"}]}]}]}')), 'SEXTANT_OTLP_JSON');
  t.assert.strictEqual(code(() => decodeLogsRequestJson(new Uint8Array([0x7b, 0xc3, 0x28, 0x7d]))), 'SEXTANT_OTLP_UTF8');
  t.assert.strictEqual(code(() => decodeLogsRequestJson('['.repeat(300) + ']'.repeat(300))), 'SEXTANT_OTLP_DEPTH');
});
