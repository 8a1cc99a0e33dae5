// Acceptance 3: the resource splice equals "decode, set the attributes, encode" on thousands of
// seeded random requests of all three signals, keeps scope bytes byte-identical, drops on null and
// preserves unknown fields.
import { test } from 'node:test';
import type { TestContext } from 'node:test';
import { create, toBinary } from '@bufbuild/protobuf';
import type { DescMessage, Message, UnknownField } from '@bufbuild/protobuf';
import { WireType } from '@bufbuild/protobuf/wire';
import {
  ExportLogsServiceRequestSchema,
  ExportMetricsServiceRequestSchema,
  ExportTraceServiceRequestSchema,
  countRecords,
  decodeLogsRequest,
  decodeMetricsRequest,
  decodeTraceRequest,
  keyValueFromMessage,
  keyValueToMessage,
  readResources,
  rewriteResources,
  rewriteResourcesParts,
  setAttrs,
  stringKv,
} from '@sextant/otlp';
import type { KeyValue, Signal } from '@sextant/otlp';
import { ResourceSchema } from '../src/gen/opentelemetry/proto/resource/v1/resource_pb.ts';
import { KeyValueSchema } from '../src/gen/opentelemetry/proto/common/v1/common_pb.ts';
import { Reader } from '../src/wire.ts';
import { keyValue, logsRequest, metricsRequest, rng, traceRequest } from './helpers/random.ts';
import type { Rng } from './helpers/random.ts';

const CASES_PER_SIGNAL = 700;

interface ResourceX extends Message {
  resource?: Message & { attributes: Message[] } | undefined;
}

const signals: { signal: Signal; desc: DescMessage; gen: (r: Rng) => Message; decode: (b: Uint8Array) => Message; listKey: string; scopeKey: string; recKey: string }[] = [
  { signal: 'logs', desc: ExportLogsServiceRequestSchema, gen: (r) => logsRequest(r, { strindex: true }), decode: decodeLogsRequest, listKey: 'resourceLogs', scopeKey: 'scopeLogs', recKey: 'logRecords' },
  { signal: 'metrics', desc: ExportMetricsServiceRequestSchema, gen: (r) => metricsRequest(r, { strindex: true }), decode: decodeMetricsRequest, listKey: 'resourceMetrics', scopeKey: 'scopeMetrics', recKey: 'metrics' },
  { signal: 'traces', desc: ExportTraceServiceRequestSchema, gen: (r) => traceRequest(r, { strindex: true }), decode: decodeTraceRequest, listKey: 'resourceSpans', scopeKey: 'scopeSpans', recKey: 'spans' },
];

function unknowns(r: Rng): UnknownField[] {
  const out: UnknownField[] = [];
  const n = r.int(3);
  for (let i = 0; i < n; i++) {
    const no = r.pick([50, 99, 777, 12345]);
    switch (r.int(3)) {
      case 0:
        out.push({ no, wireType: WireType.Varint, data: new Uint8Array([0x96, 0x01]) });
        break;
      case 1:
        out.push({ no, wireType: WireType.LengthDelimited, data: new Uint8Array([3, 0x61, 0x62, 0x63]) });
        break;
      default:
        out.push({ no, wireType: WireType.Bit32, data: new Uint8Array([1, 2, 3, 4]) });
    }
  }
  return out;
}

function addUnknowns(r: Rng, msg: Message, listKey: string, scopeKey: string): void {
  msg.$unknown = unknowns(r);
  for (const x of (msg as unknown as Record<string, Message[]>)[listKey]!) {
    x.$unknown = unknowns(r);
    const res = (x as ResourceX).resource;
    if (res) res.$unknown = unknowns(r);
    for (const s of (x as unknown as Record<string, Message[]>)[scopeKey]!) s.$unknown = unknowns(r);
  }
}

/** Raw bytes of every field `fieldNo` (tag included) of every resource entry, in order. */
function scopeFieldBytes(bytes: Uint8Array): Uint8Array[][] {
  const out: Uint8Array[][] = [];
  const r = new Reader(bytes);
  while (r.pos < r.end) {
    const t = r.tag();
    if (t >>> 3 !== 1) {
      r.skip(t & 7, t >>> 3);
      continue;
    }
    const xe = r.lenEnd();
    const fields: Uint8Array[] = [];
    const saved = r.end;
    r.end = xe;
    while (r.pos < xe) {
      const fs = r.pos;
      const t2 = r.tag();
      r.skip(t2 & 7, t2 >>> 3);
      if (t2 >>> 3 === 2) fields.push(bytes.subarray(fs, r.pos));
    }
    r.end = saved;
    out.push(fields);
  }
  return out;
}

function randomRewrite(r: Rng, attrs: KeyValue[], i: number): KeyValue[] | null {
  switch (r.int(6)) {
    case 0:
      return null;
    case 1:
      return attrs;
    case 2:
      return [];
    case 3:
      return setAttrs(attrs, [stringKv('k8s.pod.name', `pod-${i}`), stringKv('k8s.namespace.name', 'default')]);
    case 4:
      return Array.from({ length: r.int(4) }, () => keyValueFromMessage(create(KeyValueSchema, keyValue(r, { strindex: true }))));
    default:
      return [...attrs, stringKv('service.name', 'ünïcode-svc'), stringKv('', '')];
  }
}

void test('rewriteResources equals decode → set attributes → encode on random requests', (t: TestContext) => {
  let cases = 0;
  let dropped = 0;
  for (const s of signals) {
    const r = rng(0x5011ce + s.signal.length);
    for (let c = 0; c < CASES_PER_SIGNAL; c++) {
      const msg = s.gen(r);
      addUnknowns(r, msg, s.listKey, s.scopeKey);
      const input = toBinary(s.desc, msg);
      const decoded = s.decode(input) as unknown as Record<string, ResourceX[]>;
      const xs = decoded[s.listKey]!;

      const expectAttrs = xs.map((x) => (x.resource?.attributes ?? []).map((a) => keyValueFromMessage(a as never)));
      t.assert.deepStrictEqual(readResources(input, s.signal), expectAttrs, `readResources case ${c}`);

      const results: (KeyValue[] | null)[] = [];
      const output = rewriteResources(input, s.signal, (attrs, i) => {
        t.assert.deepStrictEqual(attrs, expectAttrs[i]);
        const res = randomRewrite(r, attrs, i);
        results.push(res);
        return res;
      });
      t.assert.strictEqual(results.length, xs.length);

      // reference: decode → set attrs → encode
      const kept: ResourceX[] = [];
      xs.forEach((x, i) => {
        const res = results[i]!;
        if (res === null) {
          dropped++;
          return;
        }
        if (x.resource) x.resource.attributes = res.map(keyValueToMessage);
        else if (res.length > 0) x.resource = create(ResourceSchema, { attributes: res.map(keyValueToMessage) });
        kept.push(x);
      });
      decoded[s.listKey] = kept;
      const reference = toBinary(s.desc, decoded as unknown as Message);
      t.assert.deepStrictEqual(s.decode(output), s.decode(reference), `${s.signal} case ${c}`);

      // scope bytes are copied byte for byte
      const inScopes = scopeFieldBytes(input).filter((_, i) => results[i] !== null);
      t.assert.deepStrictEqual(scopeFieldBytes(output), inScopes, `${s.signal} case ${c} scope bytes`);

      // unknown top-level fields survive
      t.assert.deepStrictEqual(s.decode(output).$unknown ?? [], msg.$unknown ?? []);

      let records = 0;
      for (const x of kept as unknown as Record<string, Record<string, Record<string, { dataPoints: unknown[] }>[]>[]>[]) {
        for (const sc of x[s.scopeKey]!) {
          for (const rec of sc[s.recKey]!) {
            if (s.signal !== 'metrics') records++;
            else {
              const d = (rec as unknown as { data: { case?: string; value?: { dataPoints: unknown[] } } }).data;
              records += d.value?.dataPoints.length ?? 0;
            }
          }
        }
      }
      t.assert.strictEqual(countRecords(output, s.signal), records);
      cases++;
    }
  }
  t.assert.ok(cases >= 2000, `${cases} cases`);
  t.assert.ok(dropped > 100, `${dropped} dropped resources exercised`);
});

void test('several Resource fields in one ResourceLogs are merged like a decoder merges them', (t: TestContext) => {
  // ResourceLogs { resource { attributes a=1, dropped 2 } scope_logs {} resource { attributes b=2, entity_refs {type} } }
  const kvA = toBinary(KeyValueSchema, keyValueToMessage(stringKv('a', '1')));
  const kvB = toBinary(KeyValueSchema, keyValueToMessage(stringKv('b', '2')));
  const res1 = [0x0a, kvA.length, ...kvA, 0x10, 2];
  const res2 = [0x0a, kvB.length, ...kvB, 0x1a, 3, 0x12, 1, 0x78];
  const x = [0x0a, res1.length, ...res1, 0x12, 0, 0x0a, res2.length, ...res2];
  const input = new Uint8Array([0x0a, x.length, ...x]);
  t.assert.deepStrictEqual(readResources(input, 'logs'), [[stringKv('a', '1'), stringKv('b', '2')]]);
  const out = rewriteResources(input, 'logs', (attrs) => [...attrs, stringKv('c', '3')]);
  const res = decodeLogsRequest(out).resourceLogs[0]!.resource!;
  t.assert.deepStrictEqual(res.attributes.map(keyValueFromMessage), [stringKv('a', '1'), stringKv('b', '2'), stringKv('c', '3')]);
  t.assert.strictEqual(res.droppedAttributesCount, 2);
  t.assert.strictEqual(res.entityRefs[0]?.type, 'x');
  t.assert.deepStrictEqual(decodeLogsRequest(out), (() => {
    const d = decodeLogsRequest(input);
    d.resourceLogs[0]!.resource!.attributes.push(keyValueToMessage(stringKv('c', '3')));
    return d;
  })());
});

void test('null drops the resource and an empty request stays empty', (t: TestContext) => {
  const input = toBinary(ExportLogsServiceRequestSchema, logsRequest(rng(7), { resources: 3 }));
  t.assert.strictEqual(rewriteResources(input, 'logs', () => null).length, 0);
  t.assert.strictEqual(rewriteResources(new Uint8Array(0), 'traces', () => []).length, 0);
  const kept = rewriteResources(input, 'logs', (a, i) => (i === 1 ? a : null));
  t.assert.strictEqual(decodeLogsRequest(kept).resourceLogs.length, 1);
});

void test('rewriteResourcesParts concatenates to rewriteResources and references the records instead of copying them', (t: TestContext) => {
  let views = 0;
  for (const s of signals) {
    const r = rng(0x9a27 + s.signal.length);
    for (let c = 0; c < 200; c++) {
      const input = toBinary(s.desc, s.gen(r));
      const seed = r.int(1000);
      const rewrite = (attrs: KeyValue[], i: number): KeyValue[] | null => randomRewrite(rng(seed + i), attrs, i);
      const parts = rewriteResourcesParts(input, s.signal, rewrite);
      t.assert.deepStrictEqual(Buffer.concat(parts), Buffer.from(rewriteResources(input, s.signal, rewrite)), `${s.signal} case ${c}`);
      views += parts.filter((p) => p.buffer === input.buffer).length;
    }
  }
  t.assert.ok(views > 0, 'long ranges of the input (scopes, records) are views, not copies');
});
