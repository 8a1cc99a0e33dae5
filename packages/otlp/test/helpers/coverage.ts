// Field coverage: which fields of which message types a set of messages actually sets, so tests
// can assert that their generated data exercises every field of the schema.
import type { DescMessage, Message } from '@bufbuild/protobuf';

function isSet(v: unknown): boolean {
  if (v === undefined || v === null) return false;
  if (Array.isArray(v)) return v.length > 0;
  if (v instanceof Uint8Array) return v.length > 0;
  if (typeof v === 'string') return v !== '';
  if (typeof v === 'number') return v !== 0;
  if (typeof v === 'bigint') return v !== 0n;
  if (typeof v === 'boolean') return v;
  return true;
}

/** Every `Type.field` reachable from `desc`. */
export function allFields(desc: DescMessage, out = new Set<string>(), seen = new Set<string>()): Set<string> {
  if (seen.has(desc.typeName)) return out;
  seen.add(desc.typeName);
  for (const f of desc.fields) {
    out.add(`${desc.typeName}.${f.name}`);
    if (f.fieldKind === 'message' || (f.fieldKind === 'list' && f.listKind === 'message')) allFields(f.message, out, seen);
  }
  return out;
}

/** Adds every `Type.field` set (non-default) anywhere in `msg` to `out`. */
export function setFields(desc: DescMessage, msg: Message, out: Set<string>): Set<string> {
  const m = msg as unknown as Record<string, unknown>;
  for (const f of desc.fields) {
    let v: unknown;
    if (f.oneof) {
      const o = m[f.oneof.localName] as { case?: string; value?: unknown };
      if (o.case !== f.localName) continue;
      v = o.value;
      out.add(`${desc.typeName}.${f.name}`);
    } else {
      v = m[f.localName];
      if (!isSet(v)) continue;
      out.add(`${desc.typeName}.${f.name}`);
    }
    if (f.fieldKind === 'message') setFields(f.message, v as Message, out);
    else if (f.fieldKind === 'list' && f.listKind === 'message') for (const e of v as Message[]) setFields(f.message, e, out);
  }
  return out;
}
