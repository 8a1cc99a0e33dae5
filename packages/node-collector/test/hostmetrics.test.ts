// Issue 6 acceptance "Metrics": host metrics read from a fixture /proc tree (exact values) and from the real /proc,
// checked after an OTLP protobuf round trip (names, units, instruments, attributes).
import { test } from 'node:test';
import type { TestContext } from 'node:test';
import { mkdir, statfs } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { encodeMetricsRequest } from '@sextant/otlp';
import { scrapeHostMetrics } from '../src/hostmetrics/host.ts';
import { flattenMetrics, pointValue } from './helpers/otlp-metrics.ts';
import type { FlatResource } from './helpers/otlp-metrics.ts';
import { tempDir } from './helpers/util.ts';

const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));

function roundTrip(rm: Parameters<typeof encodeMetricsRequest>[0]): FlatResource {
  const rs = flattenMetrics(encodeMetricsRequest(rm));
  if (rs.length !== 1 || rs[0] === undefined) throw new Error(`expected one resource, got ${rs.length}`);
  return rs[0];
}

void test('host metrics from a fixture /proc and /sys: exact values, semconv names, units and attributes', async (t: TestContext) => {
  const rootfs = await tempDir(t, 'sx-hostfs-');
  await mkdir(join(rootfs, 'var/lib/my data'), { recursive: true });
  const s = await scrapeHostMetrics({ procRoot: join(FIXTURES, 'proc'), sysRoot: join(FIXTURES, 'sys'), rootfs, nodeName: 'node-a', hostName: 'node-a' });
  t.assert.deepStrictEqual(s.errors, []);
  const r = roundTrip({ resourceMetrics: [s.resourceMetrics] });
  t.assert.deepStrictEqual(r.attrs, { 'k8s.node.name': 'node-a', 'host.name': 'node-a' });
  t.assert.equal(r.scope, '@sextant/node-collector');

  const kinds = Object.fromEntries([...r.metrics].map(([n, m]) => [n, `${m.kind} ${m.unit}`]));
  t.assert.deepStrictEqual(kinds, {
    'system.cpu.time': 'counter s',
    'system.cpu.logical.count': 'updowncounter {cpu}',
    'system.memory.limit': 'updowncounter By',
    'system.memory.usage': 'updowncounter By',
    'system.memory.linux.available': 'updowncounter By',
    'system.cpu.load_average.1m': 'gauge {thread}',
    'system.cpu.load_average.5m': 'gauge {thread}',
    'system.cpu.load_average.15m': 'gauge {thread}',
    'system.disk.io': 'counter By',
    'system.disk.operations': 'counter {operation}',
    'system.disk.merged': 'counter {operation}',
    'system.disk.operation_time': 'counter s',
    'system.disk.io_time': 'counter s',
    'system.network.io': 'counter By',
    'system.network.packet.count': 'counter {packet}',
    'system.network.errors': 'counter {error}',
    'system.network.packet.dropped': 'counter {packet}',
    'system.filesystem.usage': 'updowncounter By',
    'system.filesystem.limit': 'updowncounter By',
  });
  for (const [name, m] of r.metrics) if (m.kind !== 'gauge') t.assert.equal(m.temporality, 2, `${name} is cumulative`);

  // cpu: USER_HZ ticks → seconds; irq + softirq → interrupt; counters start at btime
  const cpu = r.metrics.get('system.cpu.time');
  t.assert.equal(cpu?.points.length, 14);
  t.assert.equal(cpu?.points[0]?.startTimeUnixNano, 1763900000n * 1_000_000_000n);
  const c = (n: string, mode: string): number | bigint => pointValue(r, 'system.cpu.time', { 'cpu.logical_number': n, 'cpu.mode': mode });
  t.assert.equal(c('0', 'user'), 123.45);
  t.assert.equal(c('0', 'system'), 50);
  t.assert.equal(c('0', 'idle'), 2500);
  t.assert.equal(c('0', 'iowait'), 10);
  t.assert.equal(c('0', 'interrupt'), 2);
  t.assert.equal(c('0', 'steal'), 0.25);
  t.assert.equal(c('1', 'user'), 176.55);
  t.assert.equal(c('1', 'nice'), 1);
  t.assert.equal(c('1', 'interrupt'), 1.5);
  t.assert.equal(pointValue(r, 'system.cpu.logical.count'), 2n);

  // memory: kB → bytes; cached includes SReclaimable; used = total - free - buffers - cached
  t.assert.equal(pointValue(r, 'system.memory.limit'), 8192000000n);
  t.assert.equal(pointValue(r, 'system.memory.usage', { 'system.memory.state': 'free' }), 1024000000n);
  t.assert.equal(pointValue(r, 'system.memory.usage', { 'system.memory.state': 'buffers' }), 204800000n);
  t.assert.equal(pointValue(r, 'system.memory.usage', { 'system.memory.state': 'cached' }), 3379200000n);
  t.assert.equal(pointValue(r, 'system.memory.usage', { 'system.memory.state': 'used' }), 3584000000n);
  t.assert.equal(pointValue(r, 'system.memory.linux.available'), 5120000000n);

  t.assert.equal(pointValue(r, 'system.cpu.load_average.1m'), 0.52);
  t.assert.equal(pointValue(r, 'system.cpu.load_average.5m'), 1.25);
  t.assert.equal(pointValue(r, 'system.cpu.load_average.15m'), 2);

  // disks: whole disks from /sys/block only (no sda1), loop devices left out; 512-byte sectors, ms → s
  const devices = new Set(r.metrics.get('system.disk.io')?.points.map((p) => p.attrs['system.device']));
  t.assert.deepStrictEqual([...devices].sort(), ['nvme0n1', 'sda']);
  t.assert.equal(pointValue(r, 'system.disk.io', { 'system.device': 'sda', 'disk.io.direction': 'read' }), 2048000000n);
  t.assert.equal(pointValue(r, 'system.disk.io', { 'system.device': 'sda', 'disk.io.direction': 'write' }), 4096000000n);
  t.assert.equal(pointValue(r, 'system.disk.operations', { 'system.device': 'sda', 'disk.io.direction': 'read' }), 20000n);
  t.assert.equal(pointValue(r, 'system.disk.operations', { 'system.device': 'nvme0n1', 'disk.io.direction': 'write' }), 2000n);
  t.assert.equal(pointValue(r, 'system.disk.merged', { 'system.device': 'sda', 'disk.io.direction': 'write' }), 1200n);
  t.assert.equal(pointValue(r, 'system.disk.operation_time', { 'system.device': 'sda', 'disk.io.direction': 'read' }), 60);
  t.assert.equal(pointValue(r, 'system.disk.io_time', { 'system.device': 'sda' }), 75);

  // network
  const eth = (m: string, dir: string, key = 'network.interface.name'): number | bigint => pointValue(r, m, { [key]: 'eth0', 'network.io.direction': dir });
  t.assert.equal(eth('system.network.io', 'receive'), 987654321n);
  t.assert.equal(eth('system.network.io', 'transmit'), 123456789n);
  t.assert.equal(eth('system.network.packet.count', 'receive', 'system.device'), 654321n);
  t.assert.equal(eth('system.network.packet.count', 'transmit', 'system.device'), 321987n);
  t.assert.equal(eth('system.network.errors', 'receive'), 3n);
  t.assert.equal(eth('system.network.errors', 'transmit'), 1n);
  t.assert.equal(eth('system.network.packet.dropped', 'receive'), 7n);
  t.assert.equal(eth('system.network.packet.dropped', 'transmit'), 2n);
  t.assert.equal(pointValue(r, 'system.network.io', { 'network.interface.name': 'lo', 'network.io.direction': 'receive' }), 123456n);

  // filesystems: pseudo and container filesystems left out, \040 unescaped, ro/rw mode, statfs through rootfs
  const fsUsage = r.metrics.get('system.filesystem.usage');
  const mounts = [...new Set(fsUsage?.points.map((p) => `${p.attrs['system.filesystem.mountpoint']} ${p.attrs['system.filesystem.mode']} ${p.attrs['system.filesystem.type']} ${p.attrs['system.device']}`))];
  t.assert.deepStrictEqual(mounts.sort(), ['/ rw ext4 /dev/sda1', '/var/lib/my data ro ext4 /dev/sda1']);
  const st = await statfs(rootfs, { bigint: true });
  for (const mp of ['/', '/var/lib/my data']) {
    const limit = pointValue(r, 'system.filesystem.limit', { 'system.filesystem.mountpoint': mp });
    t.assert.equal(limit, st.blocks * st.bsize);
    const sum = ['used', 'free', 'reserved'].reduce((a, state) => a + BigInt(pointValue(r, 'system.filesystem.usage', { 'system.filesystem.mountpoint': mp, 'system.filesystem.state': state })), 0n);
    t.assert.equal(sum, limit, `${mp}: used + free + reserved = limit`);
  }
  t.assert.equal(s.points, [...r.metrics.values()].reduce((a, m) => a + m.points.length, 0));
});

void test('host metrics from the real /proc: sane values', async (t: TestContext) => {
  const s = await scrapeHostMetrics({ procRoot: '/proc', sysRoot: '/sys', rootfs: '/', nodeName: 'node-a', hostName: 'node-a' });
  const r = roundTrip({ resourceMetrics: [s.resourceMetrics] });
  const cpuTotal = (r.metrics.get('system.cpu.time')?.points ?? []).reduce((a, p) => a + Number(p.value), 0);
  t.assert.ok(cpuTotal > 0, `cpu time ${cpuTotal} > 0`);
  t.assert.ok(Number(pointValue(r, 'system.memory.limit')) > 0);
  t.assert.ok(Number(pointValue(r, 'system.memory.usage', { 'system.memory.state': 'used' })) > 0);
  const ifaces = new Set(r.metrics.get('system.network.io')?.points.map((p) => p.attrs['network.interface.name']));
  t.assert.ok(ifaces.size >= 1, 'at least one network device');
  t.assert.ok(Number(pointValue(r, 'system.cpu.load_average.1m')) >= 0);
  // the root filesystem is visible to this process, so it must be measured (other mounts may not be reachable)
  t.assert.ok(Number(pointValue(r, 'system.filesystem.limit', { 'system.filesystem.mountpoint': '/' })) > 0);
});

void test('a /proc root that does not exist yields errors, not an exception', async (t: TestContext) => {
  const d = await tempDir(t, 'sx-noproc-');
  const s = await scrapeHostMetrics({ procRoot: join(d, 'missing'), sysRoot: join(d, 'missing'), rootfs: undefined, nodeName: 'n', hostName: 'n' });
  t.assert.equal(s.points, 0);
  t.assert.equal(s.errors.length, 5);
  // the five readers run concurrently, so the errors come in completion order, not a fixed one
  t.assert.match(s.errors.find((e) => e.startsWith('stat:')) ?? '', /^stat: ENOENT/);
  for (const e of s.errors) t.assert.match(e, /^[\w/]+: ENOENT/);
});
