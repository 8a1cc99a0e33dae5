// Parsers for the Linux /proc files the host metrics read (proc(5)). Pure functions of the file text, so the
// fixture tests can check exact values.

/** Kernel ticks per second of /proc/stat: USER_HZ is 100 on every Linux architecture's user ABI (see times(2)). */
const USER_HZ = 100;

interface CpuTimes {
  /** `cpu.logical_number` */
  cpu: number;
  /** Seconds per `cpu.mode`. */
  modes: Record<'user' | 'nice' | 'system' | 'idle' | 'iowait' | 'interrupt' | 'steal', number>;
}

interface ProcStat {
  cpus: CpuTimes[];
  /** Boot time, seconds since the epoch (the start of every cumulative counter read from /proc). */
  bootTime: number | undefined;
}

function parseStat(text: string): ProcStat {
  const cpus: CpuTimes[] = [];
  let bootTime: number | undefined;
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    const head = f[0] ?? '';
    if (head === 'btime') bootTime = Number(f[1]);
    const m = /^cpu(\d+)$/.exec(head);
    if (m === null) continue;
    const n = (i: number): number => Number(f[i] ?? 0) / USER_HZ;
    // guest and guest_nice (fields 9, 10) are already counted in user and nice
    cpus.push({
      cpu: Number(m[1]),
      modes: { user: n(1), nice: n(2), system: n(3), idle: n(4), iowait: n(5), interrupt: n(6) + n(7), steal: n(8) },
    });
  }
  return { cpus, bootTime };
}

/** /proc/meminfo values in bytes, keyed by field name. */
function parseMeminfo(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^([\w()]+):\s+(\d+)(?:\s+kB)?/.exec(line);
    if (m !== null && m[1] !== undefined) out.set(m[1], Number(m[2]) * (line.includes('kB') ? 1024 : 1));
  }
  return out;
}

function parseLoadavg(text: string): [number, number, number] {
  const f = text.trim().split(/\s+/);
  return [Number(f[0]), Number(f[1]), Number(f[2])];
}

interface DiskStats {
  device: string;
  readOps: number;
  readMerged: number;
  readBytes: number;
  readTimeS: number;
  writeOps: number;
  writeMerged: number;
  writeBytes: number;
  writeTimeS: number;
  ioTimeS: number;
}

/** /proc/diskstats (Documentation/admin-guide/iostats.rst): sectors are always 512 bytes there, times in ms. */
function parseDiskstats(text: string): DiskStats[] {
  const out: DiskStats[] = [];
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 14) continue;
    const n = (i: number): number => Number(f[i]);
    out.push({
      device: f[2] ?? '',
      readOps: n(3),
      readMerged: n(4),
      readBytes: n(5) * 512,
      readTimeS: n(6) / 1000,
      writeOps: n(7),
      writeMerged: n(8),
      writeBytes: n(9) * 512,
      writeTimeS: n(10) / 1000,
      ioTimeS: n(12) / 1000,
    });
  }
  return out;
}

interface NetDev {
  device: string;
  rxBytes: number;
  rxPackets: number;
  rxErrors: number;
  rxDropped: number;
  txBytes: number;
  txPackets: number;
  txErrors: number;
  txDropped: number;
}

/** /proc/net/dev: two header lines, then `name: 8 receive fields 8 transmit fields`. */
function parseNetDev(text: string): NetDev[] {
  const out: NetDev[] = [];
  for (const line of text.split('\n')) {
    const i = line.indexOf(':');
    if (i < 0) continue;
    const f = line.slice(i + 1).trim().split(/\s+/).map(Number);
    if (f.length < 16) continue;
    const g = (k: number): number => f[k] ?? 0;
    out.push({
      device: line.slice(0, i).trim(),
      rxBytes: g(0),
      rxPackets: g(1),
      rxErrors: g(2),
      rxDropped: g(3),
      txBytes: g(8),
      txPackets: g(9),
      txErrors: g(10),
      txDropped: g(11),
    });
  }
  return out;
}

interface Mount {
  device: string;
  mountpoint: string;
  type: string;
  mode: 'ro' | 'rw';
}

/** /proc/<pid>/mounts (fstab(5) format; spaces and other bytes in paths are octal escapes like \040). */
function parseMounts(text: string): Mount[] {
  const unescape = (s: string): string => s.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8)));
  const out: Mount[] = [];
  for (const line of text.split('\n')) {
    const f = line.split(' ');
    if (f.length < 4) continue;
    const opts = (f[3] ?? '').split(',');
    out.push({ device: unescape(f[0] ?? ''), mountpoint: unescape(f[1] ?? ''), type: f[2] ?? '', mode: opts.includes('ro') ? 'ro' : 'rw' });
  }
  return out;
}

export { parseStat, parseMeminfo, parseLoadavg, parseDiskstats, parseNetDev, parseMounts, USER_HZ };
export type { CpuTimes, ProcStat, DiskStats, NetDev, Mount };
