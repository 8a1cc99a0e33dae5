// A small OTLP logs protobuf decoder for tests (only the fields the collector writes), independent of the
// collector's encoder so that the tests check the wire bytes.
type Value = string | boolean | bigint | number | Buffer | undefined;

interface DecodedRecord {
  timeUnixNano: bigint;
  observedTimeUnixNano: bigint;
  /** string_value bytes, exactly as on the wire. */
  body: Buffer;
  bodyKind: 'string' | 'bytes' | 'none';
  attributes: Record<string, Value>;
}

interface DecodedResourceLogs {
  resource: Record<string, Value>;
  scopeName: string;
  records: DecodedRecord[];
}

class Reader {
  pos = 0;
  readonly b: Buffer;
  readonly end: number;
  constructor(b: Buffer) {
    this.b = b;
    this.end = b.length;
  }
  varint(): bigint {
    let v = 0n;
    let shift = 0n;
    for (;;) {
      const x = this.b[this.pos++];
      if (x === undefined) throw new Error('truncated varint');
      v |= BigInt(x & 127) << shift;
      if (x < 128) return v;
      shift += 7n;
    }
  }
  fields(fn: (field: number, wire: number, r: Reader) => void): void {
    while (this.pos < this.end) {
      const tag = Number(this.varint());
      const field = tag >>> 3;
      const wire = tag & 7;
      fn(field, wire, this);
    }
  }
  bytes(): Buffer {
    const n = Number(this.varint());
    if (this.pos + n > this.end) throw new Error('truncated bytes');
    const out = this.b.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
  fixed64(): bigint {
    const v = this.b.readBigUInt64LE(this.pos);
    this.pos += 8;
    return v;
  }
  skip(wire: number): void {
    if (wire === 0) this.varint();
    else if (wire === 1) this.pos += 8;
    else if (wire === 2) this.bytes();
    else if (wire === 5) this.pos += 4;
    else throw new Error(`wire type ${wire}`);
  }
}

function anyValue(b: Buffer): { v: Value; kind: 'string' | 'bytes' | 'none'; raw: Buffer } {
  let v: Value;
  let kind: 'string' | 'bytes' | 'none' = 'none';
  let raw: Buffer = Buffer.alloc(0);
  new Reader(b).fields((f, w, r) => {
    if (f === 1 && w === 2) {
      raw = r.bytes();
      v = raw.toString('utf8');
      kind = 'string';
    } else if (f === 2 && w === 0) v = r.varint() !== 0n;
    else if (f === 3 && w === 0) v = BigInt.asIntN(64, r.varint());
    else if (f === 7 && w === 2) {
      raw = r.bytes();
      v = raw;
      kind = 'bytes';
    } else r.skip(w);
  });
  return { v, kind, raw };
}

function keyValue(b: Buffer, into: Record<string, Value>): void {
  let key = '';
  let val: Value;
  new Reader(b).fields((f, w, r) => {
    if (f === 1 && w === 2) key = r.bytes().toString('utf8');
    else if (f === 2 && w === 2) val = anyValue(r.bytes()).v;
    else r.skip(w);
  });
  into[key] = val;
}

function decodeLogsRequest(body: Buffer): DecodedResourceLogs[] {
  const out: DecodedResourceLogs[] = [];
  new Reader(body).fields((f, w, r) => {
    if (f !== 1 || w !== 2) return r.skip(w);
    const rl: DecodedResourceLogs = { resource: {}, scopeName: '', records: [] };
    new Reader(r.bytes()).fields((f2, w2, r2) => {
      if (f2 === 1 && w2 === 2) {
        new Reader(r2.bytes()).fields((f3, w3, r3) => (f3 === 1 && w3 === 2 ? keyValue(r3.bytes(), rl.resource) : r3.skip(w3)));
      } else if (f2 === 2 && w2 === 2) {
        new Reader(r2.bytes()).fields((f3, w3, r3) => {
          if (f3 === 1 && w3 === 2) {
            new Reader(r3.bytes()).fields((f4, w4, r4) => (f4 === 1 && w4 === 2 ? (rl.scopeName = r4.bytes().toString('utf8')) : r4.skip(w4)));
          } else if (f3 === 2 && w3 === 2) {
            const rec: DecodedRecord = { timeUnixNano: 0n, observedTimeUnixNano: 0n, body: Buffer.alloc(0) as Buffer, bodyKind: 'none', attributes: {} };
            new Reader(r3.bytes()).fields((f4, w4, r4) => {
              if (f4 === 1 && w4 === 1) rec.timeUnixNano = r4.fixed64();
              else if (f4 === 11 && w4 === 1) rec.observedTimeUnixNano = r4.fixed64();
              else if (f4 === 5 && w4 === 2) {
                const a = anyValue(r4.bytes());
                rec.body = a.raw;
                rec.bodyKind = a.kind;
              } else if (f4 === 6 && w4 === 2) keyValue(r4.bytes(), rec.attributes);
              else r4.skip(w4);
            });
            rl.records.push(rec);
          } else r3.skip(w3);
        });
      } else r2.skip(w2);
    });
    out.push(rl);
  });
  return out;
}

export { decodeLogsRequest };
export type { DecodedRecord, DecodedResourceLogs, Value };
