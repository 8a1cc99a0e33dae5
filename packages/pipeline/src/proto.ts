// Just enough protobuf reading for the small messages the exporters look into: google.rpc.Status and
// RetryInfo (gRPC trailers) and the OTLP Export*ServiceResponse partial_success. The payloads themselves
// stay opaque.

function readVarint(buf: Uint8Array, pos: number): [number, number] {
  let result = 0;
  let mul = 1;
  for (let i = 0; i < 10; i++) {
    const b = buf[pos++];
    if (b === undefined) throw new RangeError('truncated varint');
    result += (b & 0x7f) * mul;
    if ((b & 0x80) === 0) return [result, pos];
    mul *= 128;
  }
  throw new RangeError('varint too long');
}

/** Yields [field, wireType, value] where value is a number (varint) or bytes (length-delimited). */
export function* fields(buf: Uint8Array): Generator<[number, number, number | Uint8Array]> {
  let pos = 0;
  while (pos < buf.length) {
    const [tag, p1] = readVarint(buf, pos);
    const field = Math.floor(tag / 8);
    const wt = tag & 7;
    pos = p1;
    if (wt === 0) {
      const [v, p2] = readVarint(buf, pos);
      pos = p2;
      yield [field, wt, v];
    } else if (wt === 2) {
      const [len, p2] = readVarint(buf, pos);
      if (p2 + len > buf.length) throw new RangeError('truncated field');
      yield [field, wt, buf.subarray(p2, p2 + len)];
      pos = p2 + len;
    } else if (wt === 1) {
      pos += 8;
    } else if (wt === 5) {
      pos += 4;
    } else {
      throw new RangeError(`unsupported wire type ${wt}`);
    }
  }
}

/**
 * `partial_success` (field 1) of an Export{Logs,Metrics,Trace}ServiceResponse: rejected count (field 1)
 * and error message (field 2). Undefined when absent or unreadable.
 */
export function partialSuccess(response: Uint8Array): { rejected: number; message: string } | undefined {
  try {
    for (const [f, wt, v] of fields(response)) {
      if (f !== 1 || wt !== 2 || typeof v === 'number') continue;
      let rejected = 0;
      let message = '';
      for (const [pf, pwt, pv] of fields(v)) {
        if (pf === 1 && pwt === 0 && typeof pv === 'number') rejected = pv;
        if (pf === 2 && pwt === 2 && typeof pv !== 'number') message = Buffer.from(pv).toString('utf8');
      }
      return rejected === 0 && message === '' ? undefined : { rejected, message };
    }
  } catch {
    return undefined;
  }
  return undefined;
}
