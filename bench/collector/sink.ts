// OTLP/HTTP sink shared by both collectors of the benchmark, in its own process so that its CPU is nobody's:
// decompresses (zstd, gzip), walks each request down to the log bodies, answers 200. Each body names its line
// (`<seed>:<i> `, see gen.ts) and is compared with the message written, so the sink knows per line whether it
// arrived, arrived twice, or arrived changed. GET /stats returns the counts, POST /reset clears them.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync, zstdDecompressSync } from 'node:zlib';
import { messageOf } from './gen.ts';

interface Stats {
  requests: number;
  records: number;
  distinct: number;
  duplicates: number;
  /** bodies that are not exactly the message written (e.g. trimmed) */
  changed: number;
  /** bodies that do not start with `<seed>:<i> ` */
  unknown: number;
  bodyBytes: number;
  requestBytes: number;
  /** the first changed body and what was written, JSON-quoted */
  changedExample?: { got: string; want: string };
}

let stats: Stats;
let seen: Map<number, Uint8Array>;
function reset(): void {
  stats = { requests: 0, records: 0, distinct: 0, duplicates: 0, changed: 0, unknown: 0, bodyBytes: 0, requestBytes: 0 };
  seen = new Map();
}
reset();

// Hand-written protobuf walk instead of a full decode (@sextant/otlp's decoder builds every message object): the sink
// must not slow either collector down, and it needs only the bodies. Field numbers from opentelemetry-proto:
// ExportLogsServiceRequest.resource_logs = 1, ResourceLogs.scope_logs = 2, ScopeLogs.log_records = 2,
// LogRecord.body = 5, AnyValue.string_value = 1 / bytes_value = 7.
function varint(b: Buffer, pos: number): [number, number] {
  let v = 0;
  let mul = 1;
  for (;;) {
    const x = b[pos++];
    if (x === undefined) throw new Error('truncated varint');
    v += (x & 0x7f) * mul;
    if (x < 0x80) return [v, pos];
    mul *= 128;
  }
}

/** Calls fn(field, start, end) for each length-delimited field of the message in b[start, end). */
function fields(b: Buffer, start: number, end: number, fn: (field: number, s: number, e: number) => void): void {
  let pos = start;
  while (pos < end) {
    const [key, p1] = varint(b, pos);
    pos = p1;
    const wire = key & 7;
    if (wire === 0) pos = varint(b, pos)[1];
    else if (wire === 1) pos += 8;
    else if (wire === 5) pos += 4;
    else if (wire === 2) {
      const [len, p2] = varint(b, pos);
      fn(key >>> 3, p2, p2 + len);
      pos = p2 + len;
    } else throw new Error(`unexpected wire type ${wire}`);
  }
}

function mark(seed: number, i: number): boolean {
  let bits = seen.get(seed);
  if (bits === undefined || bits.length <= i >> 3) {
    const grown = new Uint8Array(Math.max(1 << 16, (i >> 3) * 2 + 1));
    if (bits !== undefined) grown.set(bits);
    bits = grown;
    seen.set(seed, bits);
  }
  const m = 1 << (i & 7);
  const had = (bits[i >> 3] ?? 0) & m;
  bits[i >> 3] = (bits[i >> 3] ?? 0) | m;
  return had !== 0;
}

function onBody(b: Buffer, s: number, e: number): void {
  stats.records++;
  stats.bodyBytes += e - s;
  // `<seed>:<i> `
  let p = s;
  let seed = 0;
  let i = 0;
  while (p < e && b[p] !== 0x3a) seed = seed * 10 + ((b[p++] ?? 0) - 48);
  p++;
  const iStart = p;
  while (p < e && b[p] !== 0x20) i = i * 10 + ((b[p++] ?? 0) - 48);
  if (p >= e || p === iStart || !Number.isSafeInteger(seed) || !Number.isSafeInteger(i) || seed < 0 || i < 0) {
    stats.unknown++;
    return;
  }
  if (mark(seed, i)) stats.duplicates++;
  else stats.distinct++;
  const got = b.toString('latin1', s, e);
  const want = messageOf(seed, i);
  if (got !== want) {
    stats.changed++;
    stats.changedExample ??= { got, want };
  }
}

function onRequest(b: Buffer): void {
  fields(b, 0, b.length, (f, s, e) => {
    if (f !== 1) return;
    fields(b, s, e, (f2, s2, e2) => {
      if (f2 !== 2) return;
      fields(b, s2, e2, (f3, s3, e3) => {
        if (f3 !== 2) return;
        let body = false;
        fields(b, s3, e3, (f4, s4, e4) => {
          if (f4 !== 5) return;
          body = true;
          fields(b, s4, e4, (f5, s5, e5) => {
            if (f5 === 1 || f5 === 7) onBody(b, s5, e5);
            else stats.unknown++;
          });
        });
        if (!body) stats.unknown++;
      });
    });
  });
}

const server = createServer((req, res) => {
  if (req.method === 'GET') {
    res.end(JSON.stringify(stats));
    return;
  }
  if (req.url === '/reset') {
    req.resume();
    reset();
    res.end();
    return;
  }
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    let body = Buffer.concat(chunks);
    stats.requestBytes += body.length;
    const enc = req.headers['content-encoding'];
    try {
      if (enc === 'zstd') body = zstdDecompressSync(body);
      else if (enc === 'gzip') body = gunzipSync(body);
      onRequest(body);
    } catch (e) {
      process.stderr.write(`sink: bad request (${enc ?? 'identity'}): ${String(e)}\n`);
      res.writeHead(400).end();
      return;
    }
    stats.requests++;
    res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
  });
});
server.keepAliveTimeout = 60000;
server.listen(0, '127.0.0.1', () => process.stdout.write(`${(server.address() as AddressInfo).port}\n`));
