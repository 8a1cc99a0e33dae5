// Every error code is documented, and each one is what a user gets for the matching bad input.
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import type { TestContext } from 'node:test';
import {
  OTLP_ERRORS,
  OtlpDecodeError,
  countRecords,
  decodeLogsRequest,
  decodeLogsRequestJson,
  decodeMetricsRequest,
  decodeTraceRequest,
  readResources,
  rewriteResources,
} from '@sextant/otlp';
import type { OtlpErrorCode, Signal } from '@sextant/otlp';

void test('every error code is documented in the package README', async (t: TestContext) => {
  const readme = await readFile(new URL('../README.md', import.meta.url), 'utf8');
  const codes = Object.keys(OTLP_ERRORS);
  t.assert.ok(codes.length >= 10);
  for (const code of codes) t.assert.ok(readme.includes(`\`${code}\``), `${code} is missing from packages/otlp/README.md`);
});

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof OtlpDecodeError) {
      if (!err.message.startsWith(err.code)) throw new Error(`message should start with the code: ${err.message}`);
      if (err.status !== 400) throw new Error(`status ${err.status}`);
      return err.code;
    }
    throw err;
  }
  return 'no error';
}

const b = (...x: number[]): Uint8Array => new Uint8Array(x);

// [code, bytes, whether the splice functions see the problem too (they do not parse scopes)]
const protoCases: [OtlpErrorCode, Uint8Array, boolean][] = [
  ['SEXTANT_OTLP_TRUNCATED', b(0x0a), true],
  ['SEXTANT_OTLP_TRUNCATED', b(0x0a, 0x01, 0x0a), true],
  ['SEXTANT_OTLP_TRUNCATED', b(0x11, 0x01, 0x02), true], // unknown fixed64 (field 2) cut off
  ['SEXTANT_OTLP_LENGTH', b(0x0a, 0x05, 0x00), true],
  ['SEXTANT_OTLP_LENGTH', b(0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f), true],
  ['SEXTANT_OTLP_VARINT', b(0x10, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01), true],
  ['SEXTANT_OTLP_TAG', b(0x00), true],
  ['SEXTANT_OTLP_WIRE_TYPE', b(0x0f), true],
  ['SEXTANT_OTLP_WIRE_TYPE', b(0x08, 0x01), true], // resource list as a varint
  ['SEXTANT_OTLP_WIRE_TYPE', b(0x0b, 0x0c), true], // field 1 (a message) sent as a group
  ['SEXTANT_OTLP_WIRE_TYPE', b(0x13, 0x24), true], // unknown group 2 closed by end tag 4
  ['SEXTANT_OTLP_UTF8', b(0x0a, 0x03, 0x1a, 0x01, 0xff), false], // ResourceX.schema_url, copied verbatim by the splice
  ['SEXTANT_OTLP_UTF8', b(0x0a, 0x07, 0x0a, 0x05, 0x0a, 0x03, 0x0a, 0x01, 0xc3), true], // resource attribute key
];

void test('bad protobuf input fails with the documented code in every entry point', (t: TestContext) => {
  const decoders: Record<Signal, (x: Uint8Array) => unknown> = { logs: decodeLogsRequest, metrics: decodeMetricsRequest, traces: decodeTraceRequest };
  for (const [code, bytes, splice] of protoCases) {
    for (const signal of ['logs', 'metrics', 'traces'] as const) {
      const label = `${code} ${Buffer.from(bytes).toString('hex')} ${signal}`;
      t.assert.strictEqual(codeOf(() => decoders[signal](bytes)), code, `decode ${label}`);
      if (splice) {
        t.assert.strictEqual(codeOf(() => readResources(bytes, signal)), code, `readResources ${label}`);
        t.assert.strictEqual(codeOf(() => rewriteResources(bytes, signal, (a) => a)), code, `rewriteResources ${label}`);
      }
    }
  }
});

void test('nesting, JSON, argument and signal errors carry their codes', (t: TestContext) => {
  // AnyValue nested 70 deep in a log body
  const deep = (): Uint8Array => {
    let v: number[] = [0x0a, 0x01, 0x78];
    for (let i = 0; i < 70; i++) {
      const arr = [0x0a, ...varint(v.length), ...v];
      v = [0x2a, ...varint(arr.length), ...arr];
    }
    const rec = [0x2a, ...varint(v.length), ...v];
    const scope = [0x12, ...varint(rec.length), ...rec];
    const x = [0x12, ...varint(scope.length), ...scope];
    return new Uint8Array([0x0a, ...varint(x.length), ...x]);
  };
  t.assert.strictEqual(codeOf(() => decodeLogsRequest(deep())), 'SEXTANT_OTLP_DEPTH');
  t.assert.strictEqual(codeOf(() => countRecords(deep(), 'logs')), 'no error', 'the splice side does not parse records');
  t.assert.strictEqual(codeOf(() => decodeLogsRequestJson('{"resourceLogs": [')), 'SEXTANT_OTLP_JSON');
  t.assert.strictEqual(codeOf(() => decodeLogsRequest('not bytes' as unknown as Uint8Array)), 'SEXTANT_OTLP_INVALID');
  t.assert.strictEqual(codeOf(() => readResources(new Uint8Array(0), 'profiles' as Signal)), 'SEXTANT_OTLP_SIGNAL');
  const err = (() => {
    try {
      decodeLogsRequest(b(0x0a, 0x05, 0x00));
    } catch (e) {
      return e as OtlpDecodeError;
    }
    return undefined;
  })();
  t.assert.ok(err instanceof Error && err.name === 'OtlpDecodeError');
  t.assert.strictEqual(err.offset, 1);
  t.assert.match(err.message, /length 5 but only 1 bytes left/);
});

function varint(n: number): number[] {
  const out: number[] = [];
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  out.push(n);
  return out;
}
