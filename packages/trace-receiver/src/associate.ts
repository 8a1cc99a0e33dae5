// Pod association and the resource splice. Order (issue 7): the resource's k8s.pod.uid, then
// k8s.pod.ip, then k8s.pod.name + k8s.namespace.name, otherwise the client address taken when
// the request was received. Never by IP for a hostNetwork pod: the metadata cache's IP index
// leaves them out, and a match by IP is checked again here (LESSONS.md "Traces", OTC#10021).
import { countRecords, getStringAttr, readResources, rewriteResources } from '@sextant/otlp';
import type { KeyValue } from '@sextant/otlp';
import { fieldHeader, frameTraceRequest, joinSegments, varintSize } from './frame.ts';
import { normalizeAddress } from './peer.ts';

/** The part of a kube-metadata PodInfo the receiver reads. */
interface PodView {
  readonly uid: string;
  readonly hostNetwork: boolean;
}

type PodKeyView = { readonly uid: string } | { readonly namespace: string; readonly name: string } | { readonly ip: string };

/** The part of kube-metadata's MetadataCache the receiver uses (the real cache satisfies it). */
interface PodMetadata<P extends PodView = PodView> {
  readonly synced: boolean;
  getPod(key: PodKeyView): P | undefined;
  waitForPod(key: PodKeyView, timeoutMs?: number): Promise<P | undefined>;
  attributesFor(pod: P, containerName?: string): Array<[string, string]>;
  isExcluded(pod: P): boolean;
}

type AssociatedBy = 'uid' | 'ip' | 'name' | 'peer' | 'none';

interface EnrichOutcome {
  /**
   * The enriched request as byte segments to be written one after the other: new ResourceSpans
   * headers and Resource bytes, and views into the input for everything else (scopes, spans).
   * The input itself, as the only segment, when nothing changed.
   */
  readonly segments: readonly Uint8Array[];
  /** Sum of the segments' lengths; 0 when every resource was excluded. */
  readonly size: number;
  /** Resources matched to a pod, per association source. */
  readonly by: Readonly<Record<AssociatedBy, number>>;
  /** Spans dropped because their pod or namespace is excluded. */
  readonly excludedSpans: number;
  readonly excludedResources: number;
}

interface Enricher {
  /** Throws OtlpDecodeError when `bytes` is not an ExportTraceServiceRequest. */
  enrich(bytes: Uint8Array, clientAddress: string | undefined): Promise<EnrichOutcome>;
}

interface EnricherOptions {
  /** Bound on the wait for a pod the cache does not know yet (startup race). Default 2000. */
  readonly waitForPodMs?: number;
  /** How long a pod's attribute list is reused before it is computed again. Default 5000. */
  readonly attributeTtlMs?: number;
  /** How long a key that was waited for in vain is not waited for again. Default 10000. */
  readonly missTtlMs?: number;
}

interface Candidate {
  readonly key: PodKeyView;
  readonly by: Exclude<AssociatedBy, 'none'>;
}

function candidatesOf(attrs: readonly KeyValue[], clientAddress: string | undefined): Candidate[] {
  const out: Candidate[] = [];
  const uid = getStringAttr(attrs, 'k8s.pod.uid');
  if (uid !== undefined && uid !== '') out.push({ key: { uid }, by: 'uid' });
  const ip = getStringAttr(attrs, 'k8s.pod.ip');
  if (ip !== undefined && ip !== '') out.push({ key: { ip: normalizeAddress(ip) }, by: 'ip' });
  const name = getStringAttr(attrs, 'k8s.pod.name');
  const namespace = getStringAttr(attrs, 'k8s.namespace.name');
  if (name !== undefined && name !== '' && namespace !== undefined && namespace !== '') out.push({ key: { namespace, name }, by: 'name' });
  if (clientAddress !== undefined && clientAddress !== '') out.push({ key: { ip: clientAddress }, by: 'peer' });
  return out;
}

function keyText(k: PodKeyView): string {
  if ('uid' in k) return `uid:${k.uid}`;
  if ('ip' in k) return `ip:${k.ip}`;
  return `name:${k.namespace}/${k.name}`;
}

function usable(pod: PodView | undefined, c: Candidate): boolean {
  return pod !== undefined && !((c.by === 'ip' || c.by === 'peer') && pod.hostNetwork);
}

// The SDKs' default when the app sets none; the pod's derived service.name is better.
function isDefaultServiceName(v: KeyValue): boolean {
  return v.key === 'service.name' && typeof v.value === 'string' && v.value.startsWith('unknown_service');
}

function createEnricher<P extends PodView>(metadata: PodMetadata<P> | undefined, opts: EnricherOptions = {}): Enricher {
  const waitMs = opts.waitForPodMs ?? 2000;
  const ttl = opts.attributeTtlMs ?? 5000;
  // Pod records are replaced on every update, so identity plus a short TTL (namespace and
  // node rules can change underneath) keeps the KeyValue lists fresh without rebuilding them
  // for every request.
  const memo = new WeakMap<P, Map<string, { at: number; kvs: KeyValue[] }>>();
  const missTtl = opts.missTtlMs ?? 10_000;
  const recentMisses = new Map<string, number>();
  const rememberMiss = (key: string, until: number): void => {
    if (recentMisses.size >= 10_000) recentMisses.clear(); // bounded; forgetting only costs a wait
    recentMisses.set(key, until);
  };
  // An app sends the same Resource bytes in every request, so both the parsed attributes of a
  // Resource and its enriched bytes (per pod attribute list, which the memo above renews) are
  // reused: the steady state costs one Map lookup per ResourceSpans, no parse, no encode.
  const parsed = new Map<string, KeyValue[]>();
  const enrichedBytes = new WeakMap<KeyValue[], Map<string, Uint8Array>>();
  const CACHE_MAX = 4096;

  function attributesOf(pod: P, containerName: string | undefined): KeyValue[] {
    const now = Date.now();
    let perPod = memo.get(pod);
    const slot = containerName ?? '';
    const hit = perPod?.get(slot);
    if (hit !== undefined && now - hit.at < ttl) return hit.kvs;
    const kvs: KeyValue[] = metadata!.attributesFor(pod, containerName).map(([key, value]) => ({ key, value }));
    if (perPod === undefined) memo.set(pod, (perPod = new Map<string, { at: number; kvs: KeyValue[] }>()));
    perPod.set(slot, { at: now, kvs });
    return kvs;
  }

  function merge(attrs: readonly KeyValue[], add: readonly KeyValue[]): KeyValue[] {
    const out = attrs.slice();
    for (const kv of add) {
      const i = out.findIndex((a) => a.key === kv.key);
      if (i === -1) out.push(kv);
      else if (isDefaultServiceName(out[i] as KeyValue)) out[i] = kv;
      // anything the application set itself wins
    }
    return out;
  }

  /** The pod of one resource, found synchronously, or the candidate to wait for. */
  function lookup(attrs: readonly KeyValue[], clientAddress: string | undefined): { pod: P; by: Candidate['by'] } | { miss: Candidate | undefined } {
    const candidates = candidatesOf(attrs, clientAddress);
    for (const c of candidates) {
      const p = metadata!.getPod(c.key);
      if (p !== undefined && usable(p, c)) return { pod: p, by: c.by };
    }
    return { miss: candidates[0] };
  }

  // Startup race (OTC#32556): wait, bounded, for a pod the request names by uid or name (it
  // exists, the watch may lag), or for any pod while the cache has not synced. An address
  // that is no pod (a node, an external client) must not cost every request a wait, and
  // neither must a key that just timed out: misses are remembered for missTtlMs.
  async function waitFor(misses: ReadonlyArray<{ index: number; candidate: Candidate }>): Promise<Map<number, { pod: P; by: Candidate['by'] }>> {
    const found = new Map<number, { pod: P; by: Candidate['by'] }>();
    const now = Date.now();
    const pending = misses.filter((m) => {
      if (!(m.candidate.by === 'uid' || m.candidate.by === 'name' || !metadata!.synced)) return false;
      const until = recentMisses.get(keyText(m.candidate.key));
      return until === undefined || until < now;
    });
    if (pending.length === 0 || waitMs <= 0) return found;
    const pods = await Promise.all(pending.map((m) => metadata!.waitForPod(m.candidate.key, waitMs)));
    pending.forEach((m, i) => {
      const p = pods[i];
      if (p !== undefined && usable(p, m.candidate)) found.set(m.index, { pod: p, by: m.candidate.by });
      else rememberMiss(keyText(m.candidate.key), Date.now() + missTtl);
    });
    return found;
  }

  /** The general path: @sextant/otlp's splice over the whole request (any legal message). */
  async function enrichBySplice(bytes: Uint8Array, clientAddress: string | undefined): Promise<EnrichOutcome> {
    const by: Record<AssociatedBy, number> = { uid: 0, ip: 0, name: 0, peer: 0, none: 0 };
    let waited = new Map<number, { pod: P; by: Candidate['by'] }>();
    const misses: Array<{ index: number; candidate: Candidate }> = [];
    let excludedResources = 0;
    const rewrite = (attrs: KeyValue[], index: number): KeyValue[] | null => {
      let r = lookup(attrs, clientAddress);
      if ('miss' in r) {
        const w = waited.get(index);
        if (w !== undefined) r = w;
      }
      if ('miss' in r) {
        if (r.miss !== undefined) misses.push({ index, candidate: r.miss });
        by.none++;
        return attrs;
      }
      if (metadata!.isExcluded(r.pod)) {
        excludedResources++;
        return null;
      }
      by[r.by]++;
      return merge(attrs, attributesOf(r.pod, getStringAttr(attrs, 'k8s.container.name')));
    };
    let out = rewriteResources(bytes, 'traces', rewrite);
    if (misses.length > 0) {
      waited = await waitFor(misses.splice(0));
      if (waited.size > 0) {
        for (const k of Object.keys(by) as AssociatedBy[]) by[k] = 0;
        excludedResources = 0;
        out = rewriteResources(bytes, 'traces', rewrite);
      }
    }
    const excludedSpans = excludedResources > 0 ? countRecords(bytes, 'traces') - countRecords(out, 'traces') : 0;
    return { segments: out.length === 0 ? [] : [out], size: out.length, by, excludedSpans, excludedResources };
  }

  return {
    async enrich(bytes, clientAddress) {
      const by: Record<AssociatedBy, number> = { uid: 0, ip: 0, name: 0, peer: 0, none: 0 };
      if (metadata === undefined) {
        // Still parse, so malformed input is refused the same way with or without metadata.
        readResources(bytes, 'traces');
        return { segments: [bytes], size: bytes.length, by, excludedSpans: 0, excludedResources: 0 };
      }
      const frames = frameTraceRequest(bytes);
      if (frames === null) return enrichBySplice(bytes, clientAddress);
      const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      // Per ResourceSpans: its Resource bytes (the cache key) and parsed attributes.
      const keys: string[] = [];
      const attrsOf: KeyValue[][] = [];
      const found: Array<{ pod: P; by: Candidate['by'] } | undefined> = [];
      const misses: Array<{ index: number; candidate: Candidate }> = [];
      for (const f of frames) {
        if (f.kind !== 'rs') continue;
        const key = f.resStart < 0 ? '' : buf.toString('latin1', f.resStart, f.resEnd);
        let attrs = parsed.get(key);
        if (attrs === undefined) {
          // The ResourceSpans field alone is a valid one-resource request; its scopes are skipped, not parsed.
          attrs = readResources(bytes.subarray(f.fieldStart, f.end), 'traces')[0] ?? [];
          if (parsed.size >= CACHE_MAX) parsed.clear();
          parsed.set(key, attrs);
        }
        const r = lookup(attrs, clientAddress);
        if ('miss' in r) {
          if (r.miss !== undefined) misses.push({ index: keys.length, candidate: r.miss });
          found.push(undefined);
        } else found.push(r);
        keys.push(key);
        attrsOf.push(attrs);
      }
      if (misses.length > 0) for (const [i, w] of await waitFor(misses)) found[i] = w;

      const segments: Uint8Array[] = [];
      let size = 0;
      let excludedResources = 0;
      let excludedSpans = 0;
      let changed = false;
      let i = 0;
      for (const f of frames) {
        if (f.kind === 'other') {
          segments.push(bytes.subarray(f.start, f.end));
          size += f.end - f.start;
          continue;
        }
        const k = i++;
        const hit = found[k];
        if (hit === undefined) {
          by.none++;
          segments.push(bytes.subarray(f.fieldStart, f.end));
          size += f.end - f.fieldStart;
          continue;
        }
        changed = true;
        if (metadata.isExcluded(hit.pod)) {
          excludedResources++;
          excludedSpans += countRecords(bytes.subarray(f.fieldStart, f.end), 'traces');
          continue;
        }
        by[hit.by]++;
        const attrs = attrsOf[k]!;
        const kvs = attributesOf(hit.pod, getStringAttr(attrs, 'k8s.container.name'));
        let perKvs = enrichedBytes.get(kvs);
        if (perKvs === undefined) enrichedBytes.set(kvs, (perKvs = new Map<string, Uint8Array>()));
        let resource = perKvs.get(keys[k]!);
        if (resource === undefined) {
          // Splice a request that holds only this Resource, then keep the Resource field of the result.
          const res = f.resStart < 0 ? new Uint8Array(0) : bytes.subarray(f.resStart, f.resEnd);
          const mini = joinSegments([fieldHeader(0x0a, res.length), res], 1 + varintSize(res.length) + res.length, new Uint8Array(1 + varintSize(res.length) + res.length));
          const out = rewriteResources(mini, 'traces', () => merge(attrs, kvs));
          let p = 1;
          while ((out[p] ?? 0) >= 0x80) p++;
          resource = out.subarray(p + 1);
          if (perKvs.size >= 256) perKvs.clear();
          perKvs.set(keys[k]!, resource);
        }
        // ResourceSpans = new Resource field + every other field of the original, in place order.
        const before = f.resStart < 0 ? f.contentStart : f.resStart;
        const after = f.resStart < 0 ? f.contentStart : f.resEnd;
        const contentLen = resource.length + (before - f.contentStart) + (f.end - after);
        const header = fieldHeader(0x0a, contentLen);
        segments.push(header);
        if (before > f.contentStart) segments.push(bytes.subarray(f.contentStart, before));
        segments.push(resource);
        if (f.end > after) segments.push(bytes.subarray(after, f.end));
        size += header.length + contentLen;
      }
      if (!changed) return { segments: [bytes], size: bytes.length, by, excludedSpans: 0, excludedResources: 0 };
      return { segments, size, by, excludedSpans, excludedResources };
    },
  };
}

export { createEnricher };
export type { AssociatedBy, EnrichOutcome, Enricher, EnricherOptions, PodKeyView, PodMetadata, PodView };
