// Host metrics from a mounted /proc and /sys (issue 6 "Metrics"). Names, units, instruments and attribute keys
// follow the OTel semantic conventions for system metrics, model/system/metrics.yaml in
// open-telemetry/semantic-conventions (https://opentelemetry.io/docs/specs/semconv/system/system-metrics/):
// system.cpu.time (cpu.mode, cpu.logical_number), system.memory.usage (system.memory.state), system.memory.limit,
// system.disk.* (system.device, disk.io.direction), system.filesystem.* (system.device, system.filesystem.state,
// .type, .mode, .mountpoint), system.network.* (network.interface.name, network.io.direction; packet.count keys the
// interface as system.device, as that file does). Load average has no semconv metric; the names and unit are the
// OTel Collector hostmetrics receiver's (system.cpu.load_average.1m, {thread}).
import { readFile, readdir, statfs } from 'node:fs/promises';
import type { BigIntStatsFs } from 'node:fs';
import { join } from 'node:path';
import { MetricSet, nowNs } from '../telemetry/build.ts';
import type { ResourceMetricsInit } from '../telemetry/build.ts';
import { parseDiskstats, parseLoadavg, parseMeminfo, parseMounts, parseNetDev, parseStat } from './proc.ts';

interface HostMetricsOptions {
  /** The host's /proc, e.g. `/host/proc`. */
  procRoot: string;
  /** The host's /sys, e.g. `/host/sys`; used to keep whole disks only (`<sysRoot>/block`). */
  sysRoot: string;
  /** Where the host's root filesystem is mounted, e.g. `/hostfs`; absent means no filesystem metrics. */
  rootfs: string | undefined;
  nodeName: string;
  hostName: string;
}

interface HostScrape {
  resourceMetrics: ResourceMetricsInit;
  /** Data points. */
  points: number;
  /** One entry per part that could not be read, e.g. `diskstats: ENOENT ...`; the other parts are still sent. */
  errors: string[];
}

// Pseudo and per-container filesystems: thousands of overlay/tmpfs mounts on a busy node say nothing about disks.
const SKIP_FS = new Set([
  'autofs', 'binfmt_misc', 'bpf', 'cgroup', 'cgroup2', 'configfs', 'debugfs', 'devpts', 'devtmpfs', 'fusectl', 'hugetlbfs',
  'mqueue', 'nsfs', 'overlay', 'proc', 'pstore', 'rpc_pipefs', 'securityfs', 'shm', 'squashfs', 'sysfs', 'tmpfs', 'tracefs', 'ramfs',
]);

// statfs on a dead network mount blocks a libuv pool thread, and the log reader shares that pool: a mount whose
// statfs has not answered within STATFS_TIMEOUT_MS is skipped (and reported) until that call returns.
const STATFS_TIMEOUT_MS = 5000;
const pendingStatfs = new Set<string>();

async function statfsBounded(path: string): Promise<BigIntStatsFs | 'hung'> {
  if (pendingStatfs.has(path)) return 'hung';
  pendingStatfs.add(path);
  const call = statfs(path, { bigint: true }).finally(() => pendingStatfs.delete(path));
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'hung'>((resolve) => {
    timer = setTimeout(() => resolve('hung'), STATFS_TIMEOUT_MS);
    timer.unref();
  });
  try {
    return await Promise.race([call, timeout]);
  } finally {
    clearTimeout(timer);
    call.catch(() => undefined); // a late failure after the timeout is not unhandled
  }
}

async function scrapeHostMetrics(o: HostMetricsOptions): Promise<HostScrape> {
  const errors: string[] = [];
  const read = async (rel: string): Promise<string | undefined> => {
    try {
      return await readFile(join(o.procRoot, rel), 'utf8');
    } catch (e) {
      errors.push(`${rel}: ${e instanceof Error ? e.message : String(e)}`);
      return undefined;
    }
  };
  const [stat, meminfo, loadavg, diskstats, netdev] = await Promise.all([read('stat'), read('meminfo'), read('loadavg'), read('diskstats'), read('net/dev')]);
  const ps = stat === undefined ? undefined : parseStat(stat);
  const startNs = ps?.bootTime !== undefined && Number.isFinite(ps.bootTime) ? BigInt(ps.bootTime) * 1_000_000_000n : undefined;
  const set = new MetricSet(nowNs(), startNs);
  let points = 0;
  const add = (...a: Parameters<MetricSet['add']>): void => {
    set.add(...a);
    if (a[3] !== undefined) points++;
  };

  for (const c of ps?.cpus ?? []) {
    for (const [mode, s] of Object.entries(c.modes)) add('system.cpu.time', 'counter', 's', s, { 'cpu.mode': mode, 'cpu.logical_number': String(c.cpu) });
  }
  if (ps !== undefined) add('system.cpu.logical.count', 'updowncounter', '{cpu}', BigInt(ps.cpus.length));

  if (meminfo !== undefined) {
    const m = parseMeminfo(meminfo);
    const total = m.get('MemTotal');
    const free = m.get('MemFree') ?? 0;
    const buffers = m.get('Buffers') ?? 0;
    // reclaimable slab is cache the kernel gives back under pressure, as free(1) counts it
    const cached = (m.get('Cached') ?? 0) + (m.get('SReclaimable') ?? 0);
    if (total !== undefined) {
      add('system.memory.limit', 'updowncounter', 'By', BigInt(total));
      const used = Math.max(0, total - free - buffers - cached);
      for (const [state, v] of [['used', used], ['free', free], ['buffers', buffers], ['cached', cached]] as const) {
        add('system.memory.usage', 'updowncounter', 'By', BigInt(v), { 'system.memory.state': state });
      }
    }
    const avail = m.get('MemAvailable');
    if (avail !== undefined) add('system.memory.linux.available', 'updowncounter', 'By', BigInt(avail));
  }

  if (loadavg !== undefined) {
    const [l1, l5, l15] = parseLoadavg(loadavg);
    add('system.cpu.load_average.1m', 'gauge', '{thread}', l1);
    add('system.cpu.load_average.5m', 'gauge', '{thread}', l5);
    add('system.cpu.load_average.15m', 'gauge', '{thread}', l15);
  }

  if (diskstats !== undefined) {
    let disks: Set<string> | undefined;
    try {
      disks = new Set(await readdir(join(o.sysRoot, 'block')));
    } catch {
      disks = undefined; // no /sys: keep every device
    }
    for (const d of parseDiskstats(diskstats)) {
      if (disks !== undefined && !disks.has(d.device)) continue; // partitions are not in /sys/block
      if (/^(loop|ram)\d+$/.test(d.device)) continue;
      const r = { 'system.device': d.device, 'disk.io.direction': 'read' };
      const w = { 'system.device': d.device, 'disk.io.direction': 'write' };
      add('system.disk.io', 'counter', 'By', BigInt(d.readBytes), r);
      add('system.disk.io', 'counter', 'By', BigInt(d.writeBytes), w);
      add('system.disk.operations', 'counter', '{operation}', BigInt(d.readOps), r);
      add('system.disk.operations', 'counter', '{operation}', BigInt(d.writeOps), w);
      add('system.disk.merged', 'counter', '{operation}', BigInt(d.readMerged), r);
      add('system.disk.merged', 'counter', '{operation}', BigInt(d.writeMerged), w);
      add('system.disk.operation_time', 'counter', 's', d.readTimeS, r);
      add('system.disk.operation_time', 'counter', 's', d.writeTimeS, w);
      add('system.disk.io_time', 'counter', 's', d.ioTimeS, { 'system.device': d.device });
    }
  }

  if (netdev !== undefined) {
    for (const n of parseNetDev(netdev)) {
      for (const [dir, bytes, packets, errs, dropped] of [
        ['receive', n.rxBytes, n.rxPackets, n.rxErrors, n.rxDropped],
        ['transmit', n.txBytes, n.txPackets, n.txErrors, n.txDropped],
      ] as const) {
        const a = { 'network.interface.name': n.device, 'network.io.direction': dir };
        add('system.network.io', 'counter', 'By', BigInt(bytes), a);
        add('system.network.packet.count', 'counter', '{packet}', BigInt(packets), { 'system.device': n.device, 'network.io.direction': dir });
        add('system.network.errors', 'counter', '{error}', BigInt(errs), a);
        add('system.network.packet.dropped', 'counter', '{packet}', BigInt(dropped), a);
      }
    }
  }

  if (o.rootfs !== undefined) {
    // the mounts of the host's init, read through the host's /proc; each is measured through rootfs
    const mounts = await read('1/mounts');
    const seen = new Set<string>();
    for (const m of mounts === undefined ? [] : parseMounts(mounts)) {
      if (SKIP_FS.has(m.type) || seen.has(m.mountpoint)) continue;
      seen.add(m.mountpoint);
      try {
        const s = await statfsBounded(join(o.rootfs, m.mountpoint));
        if (s === 'hung') {
          errors.push(`statfs ${m.mountpoint}: no answer within ${STATFS_TIMEOUT_MS} ms`);
          continue;
        }
        const a = { 'system.device': m.device, 'system.filesystem.mountpoint': m.mountpoint, 'system.filesystem.type': m.type, 'system.filesystem.mode': m.mode };
        add('system.filesystem.usage', 'updowncounter', 'By', (s.blocks - s.bfree) * s.bsize, { ...a, 'system.filesystem.state': 'used' });
        add('system.filesystem.usage', 'updowncounter', 'By', s.bavail * s.bsize, { ...a, 'system.filesystem.state': 'free' });
        add('system.filesystem.usage', 'updowncounter', 'By', (s.bfree - s.bavail) * s.bsize, { ...a, 'system.filesystem.state': 'reserved' });
        add('system.filesystem.limit', 'updowncounter', 'By', s.blocks * s.bsize, a);
      } catch (e) {
        errors.push(`statfs ${m.mountpoint}: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
  }

  return { resourceMetrics: set.resource({ 'k8s.node.name': o.nodeName, 'host.name': o.hostName }), points, errors };
}

export { scrapeHostMetrics };
export type { HostMetricsOptions, HostScrape };
