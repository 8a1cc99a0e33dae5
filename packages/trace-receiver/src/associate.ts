// Pod association and the resource splice. Order (issue 7): the resource's k8s.pod.uid, then
// k8s.pod.ip, then k8s.pod.name + k8s.namespace.name, otherwise the client address taken when
// the request was received. Never by IP for a hostNetwork pod: the metadata cache's IP index
// leaves them out, and a match by IP is checked again here (LESSONS.md "Traces", OTC#10021).
import { countRecords, getStringAttr, readResources, rewriteResources } from '@sextant/otlp';
import type { KeyValue } from '@sextant/otlp';
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
  /** The request with enriched resources (the input itself when nothing changed). */
  readonly bytes: Uint8Array;
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

  function merge(attrs: KeyValue[], add: readonly KeyValue[]): KeyValue[] {
    const out = attrs.slice();
    for (const kv of add) {
      const i = out.findIndex((a) => a.key === kv.key);
      if (i === -1) out.push(kv);
      else if (isDefaultServiceName(out[i] as KeyValue)) out[i] = kv;
      // anything the application set itself wins
    }
    return out;
  }

  return {
    async enrich(bytes, clientAddress) {
      const by: Record<AssociatedBy, number> = { uid: 0, ip: 0, name: 0, peer: 0, none: 0 };
      if (metadata === undefined) {
        // Still parse, so malformed input is refused the same way with or without metadata.
        readResources(bytes, 'traces');
        return { bytes, by, excludedSpans: 0, excludedResources: 0 };
      }
      // Resources not found synchronously: index → pod found after a bounded wait.
      const waited = new Map<number, { pod: P; by: Candidate['by'] } | undefined>();
      let misses: Array<{ index: number; candidate: Candidate }> = [];
      let excludedResources = 0;
      const rewrite = (attrs: KeyValue[], index: number): KeyValue[] | null => {
        const candidates = candidatesOf(attrs, clientAddress);
        let pod: P | undefined;
        let how: Candidate['by'] | undefined;
        for (const c of candidates) {
          const p = metadata.getPod(c.key);
          if (p !== undefined && usable(p, c)) {
            pod = p;
            how = c.by;
            break;
          }
        }
        if (pod === undefined && waited.has(index)) {
          const w = waited.get(index);
          if (w !== undefined) ({ pod, by: how } = w);
        }
        if (pod === undefined || how === undefined) {
          const first = candidates[0];
          if (first !== undefined && !waited.has(index)) misses.push({ index, candidate: first });
          by.none++;
          return attrs;
        }
        if (metadata.isExcluded(pod)) {
          excludedResources++;
          return null;
        }
        by[how]++;
        return merge(attrs, attributesOf(pod, getStringAttr(attrs, 'k8s.container.name')));
      };
      let out = rewriteResources(bytes, 'traces', rewrite);
      // Startup race (OTC#32556): wait, bounded, for a pod the request names by uid or name (it
      // exists, the watch may lag), or for any pod while the cache has not synced. An address
      // that is no pod (a node, an external client) must not cost every request a wait, and
      // neither must a key that just timed out: misses are remembered for missTtlMs.
      const now = Date.now();
      const pending = misses.filter((m) => {
        if (!(m.candidate.by === 'uid' || m.candidate.by === 'name' || !metadata.synced)) return false;
        const until = recentMisses.get(keyText(m.candidate.key));
        return until === undefined || until < now;
      });
      misses = [];
      if (pending.length > 0 && waitMs > 0) {
        const found = await Promise.all(pending.map((m) => metadata.waitForPod(m.candidate.key, waitMs)));
        let any = false;
        pending.forEach((m, i) => {
          const p = found[i];
          const ok = p !== undefined && usable(p, m.candidate);
          if (!ok) rememberMiss(keyText(m.candidate.key), Date.now() + missTtl);
          waited.set(m.index, ok ? { pod: p, by: m.candidate.by } : undefined);
          any ||= ok;
        });
        if (any) {
          for (const k of Object.keys(by) as AssociatedBy[]) by[k] = 0;
          excludedResources = 0;
          out = rewriteResources(bytes, 'traces', rewrite);
        }
      }
      let excludedSpans = 0;
      if (excludedResources > 0) excludedSpans = countRecords(bytes, 'traces') - countRecords(out, 'traces');
      return { bytes: out, by, excludedSpans, excludedResources };
    },
  };
}

export { createEnricher };
export type { AssociatedBy, EnrichOutcome, Enricher, EnricherOptions, PodKeyView, PodMetadata, PodView };
