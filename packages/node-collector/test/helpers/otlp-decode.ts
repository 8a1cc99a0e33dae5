// Decodes the collector's requests with @sextant/otlp's full decoder (protobuf-es) into a flat shape for tests.
import { decodeLogsRequest as decodeOtlp } from '@sextant/otlp';
import type { AnyValueMessage, KeyValueMessage } from '@sextant/otlp';

type Value = string | boolean | bigint | number | Buffer | undefined;

interface DecodedRecord {
  timeUnixNano: bigint;
  observedTimeUnixNano: bigint;
  /** The body as UTF-8 bytes (string_value) or raw bytes (bytes_value). */
  body: Buffer;
  bodyKind: 'string' | 'bytes' | 'none';
  attributes: Record<string, Value>;
}

interface DecodedResourceLogs {
  resource: Record<string, Value>;
  scopeName: string;
  records: DecodedRecord[];
}

function value(v: AnyValueMessage | undefined): Value {
  const x = v?.value;
  if (x === undefined) return undefined;
  switch (x.case) {
    case 'stringValue':
    case 'boolValue':
    case 'intValue':
    case 'doubleValue':
      return x.value;
    case 'bytesValue':
      return Buffer.from(x.value);
    default:
      return undefined;
  }
}

function attrs(kvs: readonly KeyValueMessage[]): Record<string, Value> {
  const out: Record<string, Value> = {};
  for (const kv of kvs) out[kv.key] = value(kv.value);
  return out;
}

function decodeLogsRequest(body: Uint8Array): DecodedResourceLogs[] {
  const req = decodeOtlp(body);
  const out: DecodedResourceLogs[] = [];
  for (const rl of req.resourceLogs) {
    for (const sl of rl.scopeLogs) {
      out.push({
        resource: attrs(rl.resource?.attributes ?? []),
        scopeName: sl.scope?.name ?? '',
        records: sl.logRecords.map((r) => {
          const b = r.body?.value;
          return {
            timeUnixNano: r.timeUnixNano,
            observedTimeUnixNano: r.observedTimeUnixNano,
            body: b?.case === 'stringValue' ? Buffer.from(b.value, 'utf8') : b?.case === 'bytesValue' ? Buffer.from(b.value) : Buffer.alloc(0),
            bodyKind: b?.case === 'stringValue' ? 'string' : b?.case === 'bytesValue' ? 'bytes' : 'none',
            attributes: attrs(r.attributes),
          };
        }),
      });
    }
  }
  return out;
}

export { decodeLogsRequest };
export type { DecodedRecord, DecodedResourceLogs, Value };
