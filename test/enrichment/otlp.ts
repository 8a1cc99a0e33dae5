// OTLP helpers for the acceptance tests: build requests, read the backend's JSON output.
import { encodeLogsRequest } from '@sextant/otlp';
import type { OtlpJsonLine } from '@sextant/test-env';

type Attr = readonly [string, string];

function logsRequest(resources: ReadonlyArray<{ attributes: readonly Attr[]; bodies: readonly string[] }>): Uint8Array {
  return encodeLogsRequest({
    resourceLogs: resources.map((r) => ({
      resource: { attributes: r.attributes.map(([key, value]) => ({ key, value: { value: { case: 'stringValue' as const, value } } })) },
      scopeLogs: [{ logRecords: r.bodies.map((b) => ({ timeUnixNano: BigInt(Date.now()) * 1_000_000n, body: { value: { case: 'stringValue' as const, value: b } } })) }],
    })),
  });
}

interface JsonResource {
  attributes: Map<string, string>;
  /** Duplicate keys seen in the exported resource. */
  duplicateKeys: string[];
  bodies: string[];
}

interface JsonKv {
  key: string;
  value?: { stringValue?: string };
}

/** Every exported resource (logs) in the collector's file output. */
function exportedResources(lines: readonly OtlpJsonLine[]): JsonResource[] {
  const out: JsonResource[] = [];
  for (const line of lines) {
    for (const rl of (line.resourceLogs ?? []) as Array<{ resource?: { attributes?: JsonKv[] }; scopeLogs?: Array<{ logRecords?: Array<{ body?: { stringValue?: string } }> }> }>) {
      const attributes = new Map<string, string>();
      const duplicateKeys: string[] = [];
      for (const kv of rl.resource?.attributes ?? []) {
        if (attributes.has(kv.key)) duplicateKeys.push(kv.key);
        attributes.set(kv.key, kv.value?.stringValue ?? JSON.stringify(kv.value));
      }
      const bodies: string[] = [];
      for (const sl of rl.scopeLogs ?? []) for (const lr of sl.logRecords ?? []) bodies.push(lr.body?.stringValue ?? '');
      out.push({ attributes, duplicateKeys, bodies });
    }
  }
  return out;
}

export { exportedResources, logsRequest };
export type { Attr, JsonResource };
