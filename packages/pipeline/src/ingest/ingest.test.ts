import { test } from 'node:test';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { gzipSync, zstdCompressSync } from 'node:zlib';
import {
  INGEST_REJECTIONS,
  createOtlpBodyParser,
  encodeExportResponse,
  ingestRejection,
  rejectionResponse,
  responseFormatOf,
  successResponse,
} from './index.ts';
import type { IngestLimits } from './index.ts';

// Minimal protobuf reader for the assertions: field number → list of varints or byte slices.
function fields(buf: Buffer): Map<number, Array<number | Buffer>> {
  const out = new Map<number, Array<number | Buffer>>();
  let pos = 0;
  const varint = (): number => {
    let v = 0;
    let mul = 1;
    for (;;) {
      const b = buf[pos++] as number;
      v += (b & 0x7f) * mul;
      mul *= 128;
      if (b < 0x80) return v;
    }
  };
  while (pos < buf.length) {
    const key = varint();
    const list = out.get(key >> 3) ?? [];
    if ((key & 7) === 0) list.push(varint());
    else {
      const len = varint();
      list.push(buf.subarray(pos, pos + len));
      pos += len;
    }
    out.set(key >> 3, list);
  }
  return out;
}

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

// A real HTTP server that runs the parser and answers like an OTLP endpoint would.
async function startServer(limits: IngestLimits): Promise<{ url: URL; close: () => Promise<void> }> {
  const parse = createOtlpBodyParser(limits);
  const server = createServer((req, res) => {
    void parse(req, req).then((result) => {
      const answer =
        result.kind === 'ok'
          ? { statusCode: 200, headers: { 'x-format': result.format, 'x-wire': String(result.wireBytes) }, body: result.body }
          : rejectionResponse(result, responseFormatOf(req.headers));
      res.writeHead(answer.statusCode, answer.headers);
      res.end(answer.body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: new URL(`http://127.0.0.1:${port}/v1/logs`),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

function post(url: URL, headers: Record<string, string>, body: Buffer | Buffer[]): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    if (Array.isArray(body)) {
      for (const part of body) req.write(part);
      req.end();
    } else req.end(body);
  });
}

const limits: IngestLimits = { maxBodyBytes: 64 * 1024, maxDecodedBytes: 256 * 1024 };
const payload = Buffer.from('0a0b0a0912070a05680a01', 'hex');

void test('accepts protobuf and JSON, identity, gzip and zstd, and hands back the decompressed bytes', async (t) => {
  const server = await startServer(limits);
  t.after(server.close);
  for (const [encoding, wire] of [
    ['identity', payload],
    ['gzip', gzipSync(payload)],
    ['zstd', zstdCompressSync(payload)],
  ] as const) {
    const res = await post(server.url, { 'content-type': 'application/x-protobuf', 'content-encoding': encoding }, wire);
    t.assert.equal(res.status, 200, encoding);
    t.assert.deepEqual(res.body, payload, encoding);
    t.assert.equal(res.headers['x-wire'], String(wire.length));
  }
  const json = Buffer.from('{"resourceLogs":[]}');
  const res = await post(server.url, { 'content-type': 'application/json; charset=utf-8', 'content-encoding': 'gzip' }, gzipSync(json));
  t.assert.equal(res.status, 200);
  t.assert.equal(res.headers['x-format'], 'json');
  t.assert.equal(res.body.toString(), json.toString());
});

void test('wrong content type or encoding answers 415 with a google.rpc.Status naming the valid choices', async (t) => {
  const server = await startServer(limits);
  t.after(server.close);
  const res = await post(server.url, { 'content-type': 'text/plain' }, payload);
  t.assert.equal(res.status, 415);
  t.assert.equal(res.headers['content-type'], 'application/x-protobuf');
  const status = fields(res.body);
  t.assert.equal(status.get(1)?.[0], 3);
  const message = (status.get(2)?.[0] as Buffer).toString();
  t.assert.match(message, /"text\/plain".*application\/x-protobuf, application\/json/);

  const br = await post(server.url, { 'content-type': 'application/json', 'content-encoding': 'br' }, payload);
  t.assert.equal(br.status, 415);
  t.assert.equal(br.headers['content-type'], 'application/json');
  const body = JSON.parse(br.body.toString()) as { code: number; message: string };
  t.assert.equal(body.code, 3);
  t.assert.match(body.message, /"br".*gzip, zstd, identity/);
});

void test('oversized bodies answer 413, announced or chunked, and the server keeps serving', async (t) => {
  const server = await startServer(limits);
  t.after(server.close);
  const big = Buffer.alloc(limits.maxBodyBytes + 1, 1);
  const announced = await post(server.url, { 'content-type': 'application/x-protobuf', 'content-length': String(big.length) }, big);
  t.assert.equal(announced.status, 413);
  t.assert.match((fields(announced.body).get(2)?.[0] as Buffer).toString(), /Content-Length 65537 exceeds the limit of 65536/);
  const chunked = await post(server.url, { 'content-type': 'application/x-protobuf' }, [big.subarray(0, 40000), big.subarray(40000)]);
  t.assert.equal(chunked.status, 413);
  const after = await post(server.url, { 'content-type': 'application/x-protobuf' }, payload);
  t.assert.equal(after.status, 200);
});

void test('a gzip or zstd bomb is cut at the decoded limit with 413; corrupt compression is 400', async (t) => {
  const server = await startServer(limits);
  t.after(server.close);
  // 48 MiB of zeros (about 47 KiB gzipped), far above the 256 KiB decoded cap
  const bombs = [
    ['gzip', gzipSync(Buffer.alloc(48 * 1024 * 1024), { level: 9 })],
    ['zstd', zstdCompressSync(Buffer.alloc(48 * 1024 * 1024))],
  ] as const;
  for (const [encoding, wire] of bombs) {
    t.assert.equal(wire.length <= limits.maxBodyBytes, true, `${encoding} bomb fits the wire limit`);
    const before = process.memoryUsage().arrayBuffers;
    const res = await post(server.url, { 'content-type': 'application/x-protobuf', 'content-encoding': encoding }, wire);
    t.assert.equal(res.status, 413, encoding);
    t.assert.match((fields(res.body).get(2)?.[0] as Buffer).toString(), /expands past the limit of 262144 bytes/);
    // The inflater stopped at the cap: nothing near the 256 MiB expansion was ever held.
    t.assert.equal(process.memoryUsage().arrayBuffers - before < 16 * 1024 * 1024, true);
  }
  const corrupt = await post(server.url, { 'content-type': 'application/x-protobuf', 'content-encoding': 'gzip' }, gzipSync(payload).subarray(0, 8));
  t.assert.equal(corrupt.status, 400);
  const ok = await post(server.url, { 'content-type': 'application/x-protobuf', 'content-encoding': 'gzip' }, gzipSync(payload));
  t.assert.equal(ok.status, 200);
});

void test('export responses: empty on full success, partial_success fields otherwise; Retry-After on 429', (t) => {
  t.assert.equal(encodeExportResponse('logs', 'protobuf').length, 0);
  t.assert.equal(successResponse('metrics', 'json').body.toString(), '{}');
  const partial = fields(encodeExportResponse('logs', 'protobuf', { rejected: 300, errorMessage: 'dropped' }));
  const inner = fields(partial.get(1)?.[0] as Buffer);
  t.assert.equal(inner.get(1)?.[0], 300);
  t.assert.equal((inner.get(2)?.[0] as Buffer).toString(), 'dropped');
  t.assert.deepEqual(JSON.parse(encodeExportResponse('metrics', 'json', { rejected: 2, errorMessage: 'x' }).toString()), {
    partialSuccess: { rejectedDataPoints: '2', errorMessage: 'x' },
  });
  const busy = rejectionResponse(ingestRejection('SEXTANT_INGEST_QUEUE_FULL', 'queue full', { retryAfterMs: 1500 }), 'protobuf');
  t.assert.equal(busy.statusCode, 429);
  t.assert.equal(busy.headers['retry-after'], '2');
  t.assert.equal(fields(busy.body).get(1)?.[0], 8);
});

void test('every rejection code is documented in the ingest README', (t) => {
  const readme = readFileSync(new URL('./README.md', import.meta.url), 'utf8');
  for (const [code, { statusCode }] of Object.entries(INGEST_REJECTIONS)) {
    t.assert.match(readme, new RegExp(`\`${code}\` \\| ${statusCode} `), code);
  }
});
