// Maps the kubelet's Summary API (k8s.io/kubelet/pkg/apis/stats/v1alpha1, GET /stats/summary) to OTLP metrics.
// One ResourceMetrics per pod (k8s.pod.uid, k8s.pod.name, k8s.namespace.name, k8s.node.name: enrichment adds the
// rest by UID), one per container (plus k8s.container.name) and one for the node. Names, units and instruments
// follow the semantic conventions model/k8s/metrics.yaml and model/container/metrics.yaml of
// open-telemetry/semantic-conventions (https://opentelemetry.io/docs/specs/semconv/system/k8s-metrics/,
// https://opentelemetry.io/docs/specs/semconv/system/container-metrics/).
import { MetricSet, int, nowNs } from '../telemetry/build.ts';
import type { Attrs, ResourceMetricsInit } from '../telemetry/build.ts';

interface CpuStats {
  time?: string;
  usageNanoCores?: number;
  usageCoreNanoSeconds?: number;
}
interface MemoryStats {
  time?: string;
  availableBytes?: number;
  usageBytes?: number;
  workingSetBytes?: number;
  rssBytes?: number;
  pageFaults?: number;
  majorPageFaults?: number;
}
interface InterfaceStats {
  name: string;
  rxBytes?: number;
  rxErrors?: number;
  txBytes?: number;
  txErrors?: number;
}
interface NetworkStats extends Partial<InterfaceStats> {
  time?: string;
  interfaces?: InterfaceStats[];
}
interface FsStats {
  time?: string;
  availableBytes?: number;
  capacityBytes?: number;
  usedBytes?: number;
  inodesFree?: number;
  inodes?: number;
  inodesUsed?: number;
}
interface VolumeStats extends FsStats {
  name: string;
  pvcRef?: { name: string; namespace: string };
}
interface ContainerStats {
  name: string;
  startTime?: string;
  cpu?: CpuStats;
  memory?: MemoryStats;
  rootfs?: FsStats;
  logs?: FsStats;
}
interface PodStats {
  podRef: { name: string; namespace: string; uid: string };
  startTime?: string;
  containers?: ContainerStats[];
  cpu?: CpuStats;
  memory?: MemoryStats;
  network?: NetworkStats;
  volume?: VolumeStats[];
  'ephemeral-storage'?: FsStats;
}
interface NodeStats {
  nodeName: string;
  startTime?: string;
  cpu?: CpuStats;
  memory?: MemoryStats;
  network?: NetworkStats;
  fs?: FsStats;
}
interface Summary {
  node: NodeStats;
  pods?: PodStats[];
}

function startNs(t: string | undefined): bigint | undefined {
  if (t === undefined) return undefined;
  const ms = Date.parse(t);
  return Number.isNaN(ms) ? undefined : BigInt(ms) * 1_000_000n;
}

function cpu(set: MetricSet, prefix: string, c: CpuStats | undefined): void {
  if (c === undefined) return;
  if (c.usageCoreNanoSeconds !== undefined) set.add(`${prefix}.cpu.time`, 'counter', 's', c.usageCoreNanoSeconds / 1e9);
  if (c.usageNanoCores !== undefined) set.add(`${prefix}.cpu.usage`, 'gauge', '{cpu}', c.usageNanoCores / 1e9);
}

function memory(set: MetricSet, prefix: string, m: MemoryStats | undefined): void {
  if (m === undefined) return;
  set.add(`${prefix}.memory.usage`, 'updowncounter', 'By', int(m.usageBytes));
  set.add(`${prefix}.memory.working_set`, 'updowncounter', 'By', int(m.workingSetBytes));
  set.add(`${prefix}.memory.rss`, 'updowncounter', 'By', int(m.rssBytes));
  set.add(`${prefix}.memory.available`, 'updowncounter', 'By', int(m.availableBytes));
  // kubelet's pageFaults counts all faults, majorPageFaults the major ones (cgroup memory.stat pgfault, pgmajfault)
  if (m.pageFaults !== undefined && m.majorPageFaults !== undefined) {
    const paging = prefix === 'container' ? 'container.paging.faults' : `${prefix}.paging.faults`;
    set.add(paging, 'counter', '{fault}', int(m.pageFaults - m.majorPageFaults), { 'system.paging.fault.type': 'minor' });
    set.add(paging, 'counter', '{fault}', int(m.majorPageFaults), { 'system.paging.fault.type': 'major' });
  }
}

function network(set: MetricSet, prefix: string, n: NetworkStats | undefined): void {
  for (const i of n?.interfaces ?? []) {
    for (const [dir, bytes, errs] of [['receive', i.rxBytes, i.rxErrors], ['transmit', i.txBytes, i.txErrors]] as const) {
      const a = { 'network.interface.name': i.name, 'network.io.direction': dir };
      set.add(`${prefix}.network.io`, 'counter', 'By', int(bytes), a);
      set.add(`${prefix}.network.errors`, 'counter', '{error}', int(errs), a);
    }
  }
}

function fs(set: MetricSet, prefix: string, f: FsStats | undefined, a?: Attrs): void {
  if (f === undefined) return;
  set.add(`${prefix}.available`, 'updowncounter', 'By', int(f.availableBytes), a);
  set.add(`${prefix}.capacity`, 'updowncounter', 'By', int(f.capacityBytes), a);
  set.add(`${prefix}.usage`, 'updowncounter', 'By', int(f.usedBytes), a);
}

/** Converts one /stats/summary document; `nodeName` is the collector's k8s.node.name (the summary's own is a fallback). */
function summaryToResourceMetrics(s: Summary, nodeName: string | undefined): ResourceMetricsInit[] {
  const node = nodeName ?? s.node.nodeName;
  const now = nowNs();
  const out: ResourceMetricsInit[] = [];

  const ns = new MetricSet(now, startNs(s.node.startTime));
  cpu(ns, 'k8s.node', s.node.cpu);
  memory(ns, 'k8s.node', s.node.memory);
  network(ns, 'k8s.node', s.node.network);
  fs(ns, 'k8s.node.filesystem', s.node.fs);
  if (ns.size > 0) out.push(ns.resource({ 'k8s.node.name': node }));

  for (const p of s.pods ?? []) {
    const podAttrs = { 'k8s.pod.uid': p.podRef.uid, 'k8s.pod.name': p.podRef.name, 'k8s.namespace.name': p.podRef.namespace, 'k8s.node.name': node };
    const ps = new MetricSet(now, startNs(p.startTime));
    cpu(ps, 'k8s.pod', p.cpu);
    memory(ps, 'k8s.pod', p.memory);
    network(ps, 'k8s.pod', p.network);
    fs(ps, 'k8s.pod.filesystem', p['ephemeral-storage']);
    for (const v of p.volume ?? []) {
      const a: Attrs = { 'k8s.volume.name': v.name };
      if (v.pvcRef !== undefined) a['k8s.volume.type'] = 'persistentVolumeClaim';
      fs(ps, 'k8s.pod.volume', v, a);
      ps.add('k8s.pod.volume.inode.count', 'updowncounter', '{inode}', int(v.inodes), a);
      ps.add('k8s.pod.volume.inode.used', 'updowncounter', '{inode}', int(v.inodesUsed), a);
      ps.add('k8s.pod.volume.inode.free', 'updowncounter', '{inode}', int(v.inodesFree), a);
    }
    if (ps.size > 0) out.push(ps.resource(podAttrs));
    for (const c of p.containers ?? []) {
      const cs = new MetricSet(now, startNs(c.startTime));
      cpu(cs, 'container', c.cpu);
      memory(cs, 'container', c.memory);
      fs(cs, 'container.filesystem', c.rootfs);
      if (cs.size > 0) out.push(cs.resource({ ...podAttrs, 'k8s.container.name': c.name }));
    }
  }
  return out;
}

export { summaryToResourceMetrics };
export type { Summary, PodStats, ContainerStats, NodeStats };
