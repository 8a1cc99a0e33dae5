// Enrichment of one OTLP request through the resource splice: read the resources, find each
// one's pod, then rewrite only the Resource messages. Log records and data points are copied
// as bytes and never decoded (ARCHITECTURE.md "Resource-level splice").
import type { KeyValue } from '@sextant/otlp';

type SpliceSignal = 'logs' | 'metrics';

/** How a resource names its pod, in the order tried (ARCHITECTURE.md "Metadata"). */
type ResourcePodKey = { uid: string } | { namespace: string; name: string } | { containerId: string } | { ip: string };

/** The part of the metadata cache enrichment uses; @sextant/kube-metadata's cache provides it. */
interface PodMetadata<P> {
  /** The pod now, or after waiting up to timeoutMs for it to arrive; undefined after the wait. */
  waitForPod(key: ResourcePodKey, timeoutMs: number): Promise<P | undefined>;
  /** Attributes per the OTel semantic conventions plus the extraction rules (container-specific ones when named). */
  attributesFor(pod: P, containerName?: string): ReadonlyArray<readonly [string, string]>;
  /** True when the pod opted out by annotation; its resources are dropped. */
  isExcluded(pod: P): boolean;
}

/** The splice functions of @sextant/otlp. */
interface Splice {
  readResources(bytes: Uint8Array, signal: SpliceSignal): KeyValue[][];
  rewriteResources(bytes: Uint8Array, signal: SpliceSignal, fn: (attrs: KeyValue[], index: number) => KeyValue[] | null): Uint8Array;
  /** rewriteResources() as ranges, the records as views of `bytes` (saves a copy of the request). */
  rewriteResourcesParts?(bytes: Uint8Array, signal: SpliceSignal, fn: (attrs: KeyValue[], index: number) => KeyValue[] | null): Uint8Array[];
}

type MissReason = 'no_key' | 'not_found_after_wait';

interface EnrichOutcome {
  /**
   * The rewritten request as byte ranges (views of the input where unchanged, see
   * rewriteResourcesParts); undefined when every resource was dropped (nothing to store).
   */
  payload: Uint8Array[] | undefined;
  /** Bytes of the rewritten request. */
  payloadBytes: number;
  resources: number;
  enriched: number;
  /** Indexes of resources that got metadata, passed through, or were dropped. */
  enrichedIndexes: number[];
  misses: Array<{ index: number; reason: MissReason }>;
  droppedIndexes: number[];
  /** k8s.node.name of the first resource that has one: the node whose collector sent the request. */
  source: string | undefined;
}

function stringAttr(attrs: readonly KeyValue[], key: string): string | undefined {
  for (const a of attrs) if (a.key === key) return typeof a.value === 'string' && a.value !== '' ? a.value : undefined;
  return undefined;
}

/**
 * The pod key a resource carries: k8s.pod.uid, else namespace + pod name, else container.id,
 * else k8s.pod.ip (the cache answers IPs only for running pods that are not hostNetwork, the
 * newest pod owning a reused IP; see LESSONS.md "Name and IP reuse").
 */
function podKeyOf(attrs: readonly KeyValue[]): ResourcePodKey | undefined {
  const uid = stringAttr(attrs, 'k8s.pod.uid');
  if (uid !== undefined) return { uid };
  const namespace = stringAttr(attrs, 'k8s.namespace.name');
  const name = stringAttr(attrs, 'k8s.pod.name');
  if (namespace !== undefined && name !== undefined) return { namespace, name };
  const containerId = stringAttr(attrs, 'container.id');
  if (containerId !== undefined) return { containerId };
  const ip = stringAttr(attrs, 'k8s.pod.ip');
  if (ip !== undefined) return { ip };
  return undefined;
}

// attributesFor() results converted once: the cache memoizes its arrays, so the converted
// KeyValues can hang off the array itself.
const converted = new WeakMap<object, KeyValue[]>();

function metadataKeyValues(attrs: ReadonlyArray<readonly [string, string]>): KeyValue[] {
  let kvs = converted.get(attrs);
  if (kvs === undefined) {
    kvs = attrs.map(([key, value]) => ({ key, value }));
    converted.set(attrs, kvs);
  }
  return kvs;
}

/** Existing attributes win (the collector's and the SDK's); metadata only fills the gaps. */
function mergeAttributes(existing: KeyValue[], metadata: readonly KeyValue[]): KeyValue[] {
  const keys = new Set<string>();
  for (const a of existing) keys.add(a.key);
  const out = existing.slice();
  for (const kv of metadata) {
    if (!keys.has(kv.key)) {
      keys.add(kv.key);
      out.push(kv);
    }
  }
  return out;
}

/**
 * Enriches one protobuf-encoded Export*ServiceRequest. Unknown pods are waited for (up to
 * waitMs, all lookups of the request concurrently), then passed through unenriched.
 * Throws the splice's decode error when the bytes are not a valid request.
 */
async function enrichRequest<P>(
  bytes: Uint8Array,
  signal: SpliceSignal,
  splice: Splice,
  metadata: PodMetadata<P>,
  waitMs: number,
): Promise<EnrichOutcome> {
  const resources = splice.readResources(bytes, signal);
  const pods: Array<P | undefined> = new Array<P | undefined>(resources.length);
  const misses: Array<{ index: number; reason: MissReason }> = [];
  const waits: Array<Promise<void>> = [];
  for (let i = 0; i < resources.length; i++) {
    const key = podKeyOf(resources[i] as KeyValue[]);
    if (key === undefined) {
      misses.push({ index: i, reason: 'no_key' });
      continue;
    }
    waits.push(
      metadata.waitForPod(key, waitMs).then((pod) => {
        pods[i] = pod;
        if (pod === undefined) misses.push({ index: i, reason: 'not_found_after_wait' });
      }),
    );
  }
  if (waits.length > 0) await Promise.all(waits);

  const enrichedIndexes: number[] = [];
  const droppedIndexes: number[] = [];
  const rewrite = (attrs: KeyValue[], index: number): KeyValue[] | null => {
    const pod = pods[index];
    if (pod === undefined) return attrs;
    if (metadata.isExcluded(pod)) {
      droppedIndexes.push(index);
      return null;
    }
    enrichedIndexes.push(index);
    const container = stringAttr(attrs, 'k8s.container.name');
    const podAttrs = container === undefined ? metadata.attributesFor(pod) : metadata.attributesFor(pod, container);
    return mergeAttributes(attrs, metadataKeyValues(podAttrs));
  };
  const payload = splice.rewriteResourcesParts === undefined ? [splice.rewriteResources(bytes, signal, rewrite)] : splice.rewriteResourcesParts(bytes, signal, rewrite);
  let payloadBytes = 0;
  for (const p of payload) payloadBytes += p.byteLength;
  misses.sort((a, b) => a.index - b.index);
  return {
    payload: droppedIndexes.length === resources.length && resources.length > 0 ? undefined : payload,
    payloadBytes,
    resources: resources.length,
    enriched: enrichedIndexes.length,
    enrichedIndexes,
    misses,
    droppedIndexes,
    source: nodeOf(resources),
  };
}

function nodeOf(resources: readonly KeyValue[][]): string | undefined {
  for (const attrs of resources) {
    const node = stringAttr(attrs, 'k8s.node.name');
    if (node !== undefined) return node;
  }
  return undefined;
}

export { enrichRequest, mergeAttributes, podKeyOf };
export type { EnrichOutcome, MissReason, PodMetadata, ResourcePodKey, Splice, SpliceSignal };
