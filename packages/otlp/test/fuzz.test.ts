// Acceptance 4: seeded fuzzing. Random and mutated protobuf (bit flips, truncations, length bumps,
// splices) goes to decode, readResources, rewriteResources and countRecords of every signal, and
// random/mutated JSON to the JSON decoders. Each case must end in a result or an OtlpDecodeError.
// Work per case is bounded by construction (every loop consumes input); the test timeout catches hangs.
import { test } from 'node:test';
import type { TestContext } from 'node:test';
import {
  OtlpDecodeError,
  countRecords,
  decodeLogsRequest,
  decodeLogsRequestJson,
  decodeLogsResponse,
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
  readResources,
  rewriteResources,
  stringKv,
} from '@sextant/otlp';
import type { KeyValue, Signal } from '@sextant/otlp';
import { logsRequest, metricsRequest, rng, traceRequest } from './helpers/random.ts';
import type { Rng } from './helpers/random.ts';

const PROTO_CASES_PER_SIGNAL = 28_000;
const RANDOM_BYTE_CASES = 6_000;
const JSON_CASES_PER_SIGNAL = 5_000;

const decoders: Record<Signal, (b: Uint8Array) => unknown> = {
  logs: decodeLogsRequest,
  metrics: decodeMetricsRequest,
  traces: decodeTraceRequest,
};
const jsonDecoders: Record<Signal, (b: string) => unknown> = {
  logs: decodeLogsRequestJson,
  metrics: decodeMetricsRequestJson,
  traces: decodeTraceRequestJson,
};

let stats = { ok: 0, typed: 0 };

function expectTyped<T>(what: string, fn: () => T): { ok: true; value: T } | { ok: false } {
  try {
    const value = fn();
    stats.ok++;
    return { ok: true, value };
  } catch (err) {
    if (err instanceof OtlpDecodeError && typeof err.code === 'string' && err.code.startsWith('SEXTANT_OTLP_')) {
      stats.typed++;
      return { ok: false };
    }
    throw new Error(`${what}: threw something other than OtlpDecodeError: ${String(err)}`, { cause: err });
  }
}

function checkProto(signal: Signal, bytes: Uint8Array, label: string): void {
  const decoded = expectTyped(`${label} decode`, () => decoders[signal](bytes));
  const read = expectTyped(`${label} readResources`, () => readResources(bytes, signal));
  const given: KeyValue[][] = [];
  const rewritten = expectTyped(`${label} rewriteResources`, () =>
    rewriteResources(bytes, signal, (attrs, i) => {
      const next = i % 3 === 2 ? null : [...attrs, stringKv('k8s.pod.uid', `uid-${i}`)];
      if (next) given.push(next);
      return next;
    }),
  );
  expectTyped(`${label} countRecords`, () => countRecords(bytes, signal));
  // anything the full decoder accepts, the splice must accept too
  if (decoded.ok && !(read.ok && rewritten.ok)) throw new Error(`${label}: decode accepted input that the splice rejected`);
  if (rewritten.ok) {
    const again = readResources(rewritten.value, signal);
    if (JSON.stringify(again, big) !== JSON.stringify(given, big)) throw new Error(`${label}: splice output does not read back`);
  }
}

function big(_k: string, v: unknown): unknown {
  if (typeof v === 'bigint') return `${v}n`;
  if (v instanceof Uint8Array) return Buffer.from(v).toString('hex');
  return v;
}

function mutate(r: Rng, src: Uint8Array, pool: Uint8Array[]): Uint8Array {
  const b = Uint8Array.from(src);
  switch (r.int(8)) {
    case 0: {
      // bit flips
      const n = r.int(3) + 1;
      for (let i = 0; i < n && b.length > 0; i++) b[r.int(b.length)]! ^= 1 << r.int(8);
      return b;
    }
    case 1:
      return b.subarray(0, r.int(b.length + 1));
    case 2: {
      // length bump: nudge a byte that may be a length prefix
      if (b.length === 0) return b;
      const i = r.int(b.length);
      b[i] = r.pick([b[i]! + 1, b[i]! - 1, b[i]! + 7, 0xff, 0x80, 0]) & 0xff;
      return b;
    }
    case 3: {
      // splice in a chunk of another valid message
      const other = r.pick(pool);
      const s = r.int(other.length + 1);
      const chunk = other.subarray(s, s + r.int(64));
      const at = r.int(b.length + 1);
      const out = new Uint8Array(b.length + chunk.length);
      out.set(b.subarray(0, at));
      out.set(chunk, at);
      out.set(b.subarray(at), at + chunk.length);
      return out;
    }
    case 4: {
      // delete a range
      const s = r.int(b.length + 1);
      const e = Math.min(b.length, s + r.int(16));
      const out = new Uint8Array(b.length - (e - s));
      out.set(b.subarray(0, s));
      out.set(b.subarray(e), s);
      return out;
    }
    case 5: {
      // overwrite with random bytes
      for (let i = 0, n = r.int(6) + 1; i < n && b.length > 0; i++) b[r.int(b.length)] = r.int(256);
      return b;
    }
    case 6: {
      // huge varint lengths
      const at = r.int(b.length + 1);
      const junk = r.pick([
        [0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f],
        [0x0a, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01],
        [0x0b, 0x0c],
        [0x0f],
        [0x00],
        [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
      ]);
      const out = new Uint8Array(b.length + junk.length);
      out.set(b.subarray(0, at));
      out.set(junk, at);
      out.set(b.subarray(at), at + junk.length);
      return out;
    }
    default:
      return mutate(r, mutate(r, src, pool), pool);
  }
}

/** A request whose resource has one attribute with `depth` nested array AnyValues (built in O(n)). */
function deepRequest(depth: number): Uint8Array {
  // sizes of the AnyValue at each level, innermost first
  const inner = 3; // AnyValue{string_value:"x"}
  const anySize: number[] = [inner];
  for (let i = 0; i < depth; i++) {
    const prev = anySize[i]!;
    const arr = 1 + varint(prev).length + prev;
    anySize.push(1 + varint(arr).length + arr);
  }
  const top = anySize[depth]!;
  const kvLen = 3 + 1 + varint(top).length + top;
  const resLen = 1 + varint(kvLen).length + kvLen;
  const xLen = 1 + varint(resLen).length + resLen;
  const out: number[] = [0x0a, ...varint(xLen), 0x0a, ...varint(resLen), 0x0a, ...varint(kvLen), 0x0a, 1, 0x6b, 0x12, ...varint(top)];
  for (let i = depth; i > 0; i--) {
    const prev = anySize[i - 1]!;
    const arr = 1 + varint(prev).length + prev;
    out.push(0x2a, ...varint(arr), 0x0a, ...varint(prev));
  }
  out.push(0x0a, 1, 0x78);
  return new Uint8Array(out);
}

function varint(n: number): number[] {
  const out: number[] = [];
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  out.push(n);
  return out;
}

void test('protobuf fuzz: decode, readResources, rewriteResources, countRecords end in a result or OtlpDecodeError', { timeout: 600_000 }, (t: TestContext) => {
  stats = { ok: 0, typed: 0 };
  const r = rng(0xf022);
  // small messages keep each case cheap; mutations then hit structure more often
  const small = { maxDepth: 2, strindex: true, scopes: 1, records: 2 };
  const pools: Record<Signal, Uint8Array[]> = {
    logs: Array.from({ length: 40 }, () => encodeLogsRequest(logsRequest(r, small))),
    metrics: Array.from({ length: 40 }, () => encodeMetricsRequest(metricsRequest(r, small))),
    traces: Array.from({ length: 40 }, () => encodeTraceRequest(traceRequest(r, small))),
  };
  const all = [...pools.logs, ...pools.metrics, ...pools.traces];
  let cases = 0;
  for (const signal of ['logs', 'metrics', 'traces'] as const) {
    for (let i = 0; i < PROTO_CASES_PER_SIGNAL; i++) {
      const input = mutate(r, r.pick(pools[signal]), all);
      checkProto(signal, input, `${signal} case ${i}`);
      cases++;
    }
  }
  for (let i = 0; i < RANDOM_BYTE_CASES; i++) {
    const input = r.bytes(r.int(200));
    for (const signal of ['logs', 'metrics', 'traces'] as const) checkProto(signal, input, `random case ${i}`);
    expectTyped('response decode', () => decodeLogsResponse(input));
    cases += 3;
  }
  // nesting at and past the limit
  for (const depth of [63, 64, 65, 1000, 20000]) {
    checkProto('logs', deepRequest(depth), `depth ${depth}`);
    cases++;
  }
  t.assert.throws(() => decodeLogsRequest(deepRequest(20000)), (e: unknown) => e instanceof OtlpDecodeError && e.code === 'SEXTANT_OTLP_DEPTH');
  t.assert.throws(() => readResources(deepRequest(64), 'logs'), (e: unknown) => e instanceof OtlpDecodeError && e.code === 'SEXTANT_OTLP_DEPTH');
  t.assert.strictEqual(readResources(deepRequest(63), 'logs').length, 1);
  t.assert.ok(cases >= 100_000, `${cases} cases`);
  t.assert.ok(stats.ok > 10_000 && stats.typed > 10_000, `both outcomes exercised: ${JSON.stringify(stats)}`);
  t.diagnostic(`${cases} protobuf cases, ${stats.ok} calls returned, ${stats.typed} threw OtlpDecodeError`);
});

function mutateJson(r: Rng, s: string): string {
  switch (r.int(7)) {
    case 0: {
      const i = r.int(s.length + 1);
      return s.slice(0, i) + s.slice(i + 1 + r.int(4));
    }
    case 1: {
      const i = r.int(s.length + 1);
      return s.slice(0, i) + r.pick(['{', '}', '[', ']', '"', ',', ':', '0', '-', 'null', '1e999', '"zz"', '\\u0000', '\u00ff']) + s.slice(i);
    }
    case 2:
      return s.slice(0, r.int(s.length + 1));
    case 3:
      // type confusion on values
      return s.replace(/"[0-9a-f]{16}"/, r.pick(['"xyz"', '123', 'null', '"0"', '{}', '"ABCDEF0123456789"']));
    case 4:
      return s.replace(/"(\d+)"/, r.pick(['$1', '"-1"', '"1.5"', '"18446744073709551616"', 'true', '[]']));
    case 5:
      return s.replace(/"(stringValue|intValue|arrayValue|kvlistValue|severityNumber|kind)"/, r.pick(['"bogus"', '"string_value"', '"values"', '"x"']));
    default:
      return mutateJson(r, mutateJson(r, s));
  }
}

function randomJson(r: Rng, depth: number): unknown {
  const k = r.int(depth > 4 ? 5 : 7);
  switch (k) {
    case 0:
      return r.str(1);
    case 1:
      return r.int(1000) - 500;
    case 2:
      return r.bool();
    case 3:
      return null;
    case 4:
      return r.pick(['0102', 'zz', '', '1e3', '-0']);
    case 5:
      return Array.from({ length: r.int(4) }, () => randomJson(r, depth + 1));
    default: {
      const o: Record<string, unknown> = {};
      const keys = ['resourceLogs', 'resourceSpans', 'resourceMetrics', 'scopeLogs', 'scopeSpans', 'spans', 'logRecords', 'traceId', 'spanId', 'resource', 'attributes', 'key', 'value', 'stringValue', 'intValue', 'arrayValue', 'values', 'kvlistValue', 'body', 'timeUnixNano', 'gauge', 'dataPoints', 'exemplars'];
      for (let i = 0, n = r.int(4); i < n; i++) o[r.pick(keys)] = randomJson(r, depth + 1);
      return o;
    }
  }
}

void test('JSON fuzz: random and mutated OTLP/JSON ends in a result or OtlpDecodeError', { timeout: 600_000 }, (t: TestContext) => {
  stats = { ok: 0, typed: 0 };
  const r = rng(0x150f);
  const small = { maxDepth: 2, scopes: 1, records: 2 };
  const pools: Record<Signal, string[]> = {
    logs: Array.from({ length: 20 }, () => encodeLogsRequestJson(logsRequest(r, small))),
    metrics: Array.from({ length: 20 }, () => encodeMetricsRequestJson(metricsRequest(r, small))),
    traces: Array.from({ length: 20 }, () => encodeTraceRequestJson(traceRequest(r, small))),
  };
  let cases = 0;
  for (const signal of ['logs', 'metrics', 'traces'] as const) {
    for (let i = 0; i < JSON_CASES_PER_SIGNAL; i++) {
      const text = r.bool(0.8) ? mutateJson(r, r.pick(pools[signal])) : JSON.stringify(randomJson(r, 0));
      expectTyped(`${signal} json case ${i}`, () => jsonDecoders[signal](text));
      cases++;
    }
  }
  const deep = '{"resourceLogs":[{"resource":{"attributes":[{"key":"k","value":' + '{"arrayValue":{"values":['.repeat(5000) + ']}}'.repeat(5000) + '}]}}]}';
  t.assert.throws(() => decodeLogsRequestJson(deep), (e: unknown) => e instanceof OtlpDecodeError && e.code === 'SEXTANT_OTLP_DEPTH');
  expectTyped('invalid utf-8 json', () => decodeTraceResponseJson(new Uint8Array([0x7b, 0xff, 0x7d]) as unknown as string));
  t.assert.ok(cases >= 15_000);
  t.assert.ok(stats.ok > 1000 && stats.typed > 1000, `both outcomes exercised: ${JSON.stringify(stats)}`);
  t.diagnostic(`${cases} JSON cases, ${stats.ok} returned, ${stats.typed} threw OtlpDecodeError`);
});
