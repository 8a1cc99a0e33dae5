// Enrichment of one OTLP request through the resource splice: read the resources, find each
// one's pod, then rewrite only the Resource messages. Log records and data points are copied
// as bytes and never decoded (ARCHITECTURE.md "Resource-level splice").
import { fieldHead, gzipStoredMember, readVarintAt, zstdStoredFrame } from '@sextant/otlp';
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
  /** Checks one ResourceX's content as readResources() would; returns how many `resource` fields it holds. */
  scanResourceContent(content: Uint8Array, signal: SpliceSignal): number;
  /** Records (log records / data points) in one ResourceX's content; throws on a malformed structure. */
  countResourceRecords(content: Uint8Array, signal: SpliceSignal): number;
}

type MissReason = 'no_key' | 'not_found_after_wait';

/** Codecs whose frames the compressed splice keeps (OtlpBody.frames: zstd frames, gzip members). */
type FramedEncoding = 'zstd' | 'gzip';

/** One frame (zstd frame, gzip member) of the received body: its compressed bytes and what it decoded to. */
interface FrameSpan {
  wire: Uint8Array;
  decoded: Uint8Array;
}

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
  /** Set when `payload` is zstd frames or gzip members (the compressed splice), else the payload is the protobuf request. */
  encoding: FramedEncoding | undefined;
  /** Records per resource, when the request was read frame by frame (counted while checking it). */
  recordsPerResource: number[] | undefined;
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
 * Enriches one protobuf-encoded Export*ServiceRequest, given as bytes or as a logs request read
 * frame by frame (readFramedLogs). Unknown pods are waited for (up to waitMs, all lookups of the
 * request concurrently), then passed through unenriched.
 * Throws the splice's decode error when the bytes are not a valid request.
 */
async function enrichRequest<P>(
  input: Uint8Array | FramedLogs,
  signal: SpliceSignal,
  splice: Splice,
  metadata: PodMetadata<P>,
  waitMs: number,
): Promise<EnrichOutcome> {
  const framed = input instanceof Uint8Array ? undefined : input;
  const resources = framed === undefined ? splice.readResources(input as Uint8Array, signal) : framed.attrs;
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
  let payload: Uint8Array[];
  if (framed !== undefined) payload = compressedSpliceParts(framed, splice, rewrite);
  else {
    const bytes = input as Uint8Array;
    payload = splice.rewriteResourcesParts === undefined ? [splice.rewriteResources(bytes, signal, rewrite)] : splice.rewriteResourcesParts(bytes, signal, rewrite);
  }
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
    encoding: framed?.encoding,
    recordsPerResource: framed?.records,
  };
}

const SPLICE_MIN_RESOURCE_BYTES = 4096;

/**
 * A logs request framed per resource the way @sextant/otlp encodeZstdFramedLogs and
 * encodeGzipFramedLogs frame it, read and checked frame by frame: the decoded frames are never
 * joined into one request.
 */
interface FramedLogs {
  encoding: FramedEncoding;
  /** Per resource: a request holding one ResourceLogs with only that resource (from H). */
  minis: Uint8Array[];
  /** Per resource: its attributes, read from `minis`. */
  attrs: KeyValue[][];
  /** Per resource: R, the rest of the ResourceLogs, as received (compressed) and its decoded size. */
  rest: Array<{ wire: Uint8Array; size: number }>;
  /** Per resource: log records in R. */
  records: number[];
}

/**
 * The H/R frame layout of @sextant/otlp's framed encoders: frames in pairs, H_i decoding to
 * exactly `0x0a varint(L) <resource field>` and R_i holding the remaining L minus the resource
 * field's bytes of that ResourceLogs, with no second resource field. R is checked as the splice
 * checks a ResourceLogs, and its records are counted (a malformed R throws the splice's decode
 * error: a 400). Anything else → undefined, and the caller reads the joined body as it would
 * from any client (and stores it as protobuf).
 */
function readFramedLogs(frames: readonly FrameSpan[], encoding: FramedEncoding, splice: Splice): FramedLogs | undefined {
  if (frames.length === 0 || frames.length % 2 !== 0) return undefined;
  const resources = frames.length / 2;
  let decoded = 0;
  for (const f of frames) decoded += f.decoded.length;
  // Each H' costs a splice call and a frame of its own (~10 µs); with small resources that costs
  // more than compressing the whole request at export, so those requests are stored as protobuf.
  if (decoded / resources < SPLICE_MIN_RESOURCE_BYTES) return undefined;
  const out: FramedLogs = { encoding, minis: [], attrs: [], rest: [], records: [] };
  for (let i = 0; i < frames.length; i += 2) {
    const h = (frames[i] as FrameSpan).decoded;
    const r = frames[i + 1] as FrameSpan;
    if (h[0] !== 0x0a) return undefined;
    const outer = readVarintAt(h, 1, h.length);
    if (outer === undefined) return undefined;
    const [rlLen, rlStart] = outer;
    if (h[rlStart] !== 0x0a) return undefined;
    const inner = readVarintAt(h, rlStart + 1, h.length);
    if (inner === undefined || inner[1] + inner[0] !== h.length) return undefined;
    if (rlLen !== h.length - rlStart + r.decoded.length) return undefined;
    if (splice.scanResourceContent(r.decoded, 'logs') !== 0) return undefined;
    const field = h.subarray(rlStart);
    const mini = Buffer.concat([fieldHead(0x0a, field.length), field]);
    const attrs = splice.readResources(mini, 'logs');
    if (attrs.length !== 1) return undefined;
    out.minis.push(mini);
    out.attrs.push(attrs[0] as KeyValue[]);
    out.rest.push({ wire: r.wire, size: r.decoded.length });
    out.records.push(splice.countResourceRecords(r.decoded, 'logs'));
  }
  return out;
}

/**
 * The compressed splice: per resource a new small H' frame (tag, new length, enriched resource;
 * stored uncompressed in the request's codec, as the node collector stores its H frames, see
 * @sextant/otlp framed.ts) followed by the client's own R frame bytes, never recompressed.
 * A dropped resource drops both. The concatenation is one zstd stream (one gzip file of several
 * members) decoding to the enriched request. H' needs no 'SX' length: nothing reads the stored
 * members one by one again, and gzip readers decode the members as one stream.
 */
function compressedSpliceParts(framed: FramedLogs, splice: Splice, rewrite: (attrs: KeyValue[], index: number) => KeyValue[] | null): Uint8Array[] {
  const parts: Uint8Array[] = [];
  for (let i = 0; i < framed.minis.length; i++) {
    const rest = framed.rest[i] as FramedLogs['rest'][number];
    const out = splice.rewriteResources(framed.minis[i] as Uint8Array, 'logs', (attrs) => rewrite(attrs, i));
    if (out.length === 0) continue; // dropped
    const len = readVarintAt(out, 1, out.length);
    if (out[0] !== 0x0a || len === undefined || len[1] + len[0] !== out.length) throw new Error('internal: unexpected splice output for one resource');
    const content = out.subarray(len[1]);
    const head = Buffer.concat([fieldHead(0x0a, content.length + rest.size), content]);
    parts.push(framed.encoding === 'zstd' ? zstdStoredFrame(head) : gzipStoredMember(head), rest.wire);
  }
  return parts;
}

function nodeOf(resources: readonly KeyValue[][]): string | undefined {
  for (const attrs of resources) {
    const node = stringAttr(attrs, 'k8s.node.name');
    if (node !== undefined) return node;
  }
  return undefined;
}

export { enrichRequest, mergeAttributes, podKeyOf, readFramedLogs };
export type { EnrichOutcome, FramedEncoding, FramedLogs, FrameSpan, MissReason, PodMetadata, ResourcePodKey, Splice, SpliceSignal };
