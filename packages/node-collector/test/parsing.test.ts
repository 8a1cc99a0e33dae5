// Parsing end to end: real files in a pod log tree, the collector, a real HTTP receiver decoding the wire bytes.
// Each case is a lesson from LESSONS.md "Parsing".
import { test } from 'node:test';
import type { TestContext } from 'node:test';
import { appendFile, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createNodeCollector, parseRfc3339Nano } from '../src/index.ts';
import { startReceiver } from './helpers/receiver.ts';
import type { DecodedRecord, DecodedResourceLogs } from './helpers/otlp-decode.ts';
import { metricValue, tempDir, testConfig, waitFor } from './helpers/util.ts';

const T1 = '2026-11-24T06:15:00.123456789Z';
const T1_NS = BigInt(Date.UTC(2026, 10, 24, 6, 15, 0)) * 1_000_000n + 123_456_789n;

interface Got {
  resource: DecodedResourceLogs['resource'];
  rec: DecodedRecord;
}

async function setup(t: TestContext, extra: Parameters<typeof testConfig>[3] = {}) {
  const root = await tempDir(t, 'nc-parse-root-');
  const ckpt = await tempDir(t, 'nc-parse-ckpt-');
  const got: Got[] = [];
  const rx = await startReceiver((rl) => {
    for (const rec of rl.records) got.push({ resource: rl.resource, rec });
  });
  t.after(() => rx.close());
  const config = testConfig(root, ckpt, [rx.endpoint], extra);
  return { root, ckpt, got, rx, config };
}

function bodies(got: Got[], container: string): string[] {
  return got.filter((g) => g.resource['k8s.container.name'] === container).map((g) => g.rec.body.toString('utf8'));
}

void test('timestamps keep nanoseconds and offsets', (t) => {
  const b = (s: string) => Buffer.from(s);
  t.assert.equal(parseRfc3339Nano(b(T1), 0, T1.length), T1_NS);
  t.assert.equal(parseRfc3339Nano(b('2026-11-24T08:15:00.123456789+02:00'), 0, 35), T1_NS);
  t.assert.equal(parseRfc3339Nano(b('2026-11-24T06:15:00.1Z'), 0, 22), T1_NS - 23_456_789n);
  t.assert.equal(parseRfc3339Nano(b('2026-11-24T06:15:00Z'), 0, 20), T1_NS - 123_456_789n);
  t.assert.equal(parseRfc3339Nano(b('1969-12-31T23:59:59.000000001Z'), 0, 30), -999_999_999n);
  t.assert.equal(parseRfc3339Nano(b('2026-13-24T06:15:00Z'), 0, 20), undefined);
  t.assert.equal(parseRfc3339Nano(b('not a timestamp at all'), 0, 22), undefined);
});

void test('CRI: P/F joined per stream with stdout and stderr interleaved, bytes kept, nanoseconds, malformed and invalid UTF-8 delivered', async (t) => {
  const { root, got, config } = await setup(t, { readBufferBytes: 4096 });
  const dir = join(root, 'shop_cart-7d9f_0c8a1f2e-1111-2222-3333-444455556666', 'app');
  await mkdir(dir, { recursive: true });
  const lines = [
    `${T1} stdout P hello `,
    `${T1} stderr F err one`,
    `${T1} stdout P wor`,
    `2026-11-24T06:15:01.000000002Z stderr P e2a `,
    `2026-11-24T06:15:01.000000003Z stdout F ld  `,
    `2026-11-24T06:15:01.000000004Z stderr F b\t`,
    'this line has no CRI prefix ',
    `${T1} stdout F `,
    `${T1} stdout F  leading and trailing spaces  `,
  ];
  const bad = Buffer.concat([Buffer.from(`${T1} stdout F ab`), Buffer.from([0xff, 0xfe]), Buffer.from('cd \u00e9\n')]);
  await writeFile(join(dir, '0.log'), Buffer.concat([Buffer.from(lines.join('\n') + '\n'), bad]));
  const c = createNodeCollector(config);
  await c.start();
  t.after(() => c.shutdown());
  await waitFor(() => got.length >= 7, 10000, '7 records');
  const out = bodies(got, 'app');
  t.assert.deepEqual(out, [
    'err one',
    'hello world  ',
    'e2a b\t',
    'this line has no CRI prefix ',
    '',
    ' leading and trailing spaces  ',
    'ab\ufffd\ufffdcd \u00e9',
  ]);
  const [errOne, hello, e2ab, malformed, , , invalid] = got.map((g) => g.rec);
  t.assert.equal(errOne?.attributes['log.iostream'], 'stderr');
  t.assert.equal(hello?.attributes['log.iostream'], 'stdout');
  t.assert.equal(hello?.timeUnixNano, T1_NS, 'a joined record has the time of its first part, to the nanosecond');
  t.assert.equal(e2ab?.timeUnixNano, T1_NS + 1_000_000_000n - 123_456_789n + 2n);
  t.assert.equal(malformed?.attributes['log.parse.error'], true);
  t.assert.equal(malformed?.attributes['log.iostream'], undefined);
  t.assert.equal((malformed?.timeUnixNano ?? 0n) > 0n, true, 'a malformed line gets the observed time');
  t.assert.equal(invalid?.attributes['log.record.invalid_utf8'], true);
  t.assert.equal(invalid?.bodyKind, 'string');
  const res = got[0]?.resource ?? {};
  t.assert.deepEqual(res, {
    'k8s.namespace.name': 'shop',
    'k8s.pod.name': 'cart-7d9f',
    'k8s.pod.uid': '0c8a1f2e-1111-2222-3333-444455556666',
    'k8s.container.name': 'app',
    'k8s.container.restart_count': 0n,
    'k8s.node.name': 'node-a',
    'log.file.path': join(dir, '0.log'),
  });
  const metrics = await (await fetch(`http://127.0.0.1:${c.statusAddress()?.port}/metrics`)).text();
  t.assert.equal(metricValue(metrics, 'sextant_node_collector_parse_errors_total', '{format="cri"}'), 1);
  t.assert.equal(metricValue(metrics, 'sextant_node_collector_invalid_utf8_total'), 1);
});

void test('a 10 MB line and a 10 MB P/F sequence are truncated to max_record_bytes, flagged and counted; the next lines arrive', async (t) => {
  const { root, got, config } = await setup(t, { maxRecordBytes: 1 << 20, readBufferBytes: 64 * 1024 });
  const dir = join(root, 'big_pod_u1', 'c');
  await mkdir(dir, { recursive: true });
  const file = join(dir, '2.log');
  const ten = 10 * 1024 * 1024;
  await writeFile(file, `${T1} stdout F ${'x'.repeat(ten)}\n${T1} stdout F after-1\n`);
  const c = createNodeCollector(config);
  await c.start();
  t.after(() => c.shutdown());
  // the P/F form, as containerd writes long lines (16 KiB parts), with an é across each part boundary
  const part = `${'y'.repeat(16383)}\u00e9`;
  const chunks: string[] = [];
  for (let i = 0; i < 640; i++) chunks.push(`${T1} stderr P ${part}\n`);
  chunks.push(`${T1} stderr F end\n${T1} stderr F after-2\n`);
  await appendFile(file, chunks.join(''));
  await waitFor(() => got.length >= 4, 20000, '4 records');
  const [big1, after1, big2, after2] = got.map((g) => g.rec);
  t.assert.equal(big1?.body.length, 1 << 20);
  t.assert.equal(big1?.attributes['log.record.truncated'], true);
  t.assert.equal(after1?.body.toString(), 'after-1');
  t.assert.equal(after1?.attributes['log.record.truncated'], undefined);
  t.assert.equal((big2?.body.length ?? 0) <= 1 << 20 && (big2?.body.length ?? 0) > (1 << 20) - 4, true);
  t.assert.equal(big2?.body.toString('utf8').startsWith('yyy'), true);
  t.assert.equal(big2?.body.toString('utf8').includes('\ufffd'), false, 'the cut falls on a UTF-8 boundary');
  t.assert.equal(big2?.attributes['log.record.truncated'], true);
  t.assert.equal(big2?.attributes['log.iostream'], 'stderr');
  t.assert.equal(after2?.body.toString(), 'after-2');
  t.assert.equal(got[0]?.resource['k8s.container.restart_count'], 2n);
  const metrics = await (await fetch(`http://127.0.0.1:${c.statusAddress()?.port}/metrics`)).text();
  t.assert.equal(metricValue(metrics, 'sextant_node_collector_truncated_total'), 2);
  t.assert.equal((metricValue(metrics, 'sextant_node_collector_skipped_bytes_total', '{reason="record_too_large"}') ?? 0) > 18 * 1024 * 1024, true);
});

void test('docker json-file: detected, partial lines joined per stream, nanoseconds, escapes, malformed lines flagged', async (t) => {
  const { root, got, config } = await setup(t);
  const dir = join(root, 'legacy_web-0_u2', 'nginx');
  await mkdir(dir, { recursive: true });
  const j = (log: string, stream: string, time: string) => JSON.stringify({ log, stream, time });
  const content = [
    j('GET / 200 \n', 'stdout', T1),
    j('part one ', 'stdout', '2026-11-24T06:15:00.5Z'),
    j('oops\n', 'stderr', '2026-11-24T06:15:00.6Z'),
    j('part two\ttab "quoted" \u00fc \n', 'stdout', '2026-11-24T06:15:00.7Z'),
    '{"log":"broken json',
    j('tail  \n', 'stderr', T1),
  ].join('\n') + '\n';
  await writeFile(join(dir, '0.log'), content);
  const c = createNodeCollector(config);
  await c.start();
  t.after(() => c.shutdown());
  await waitFor(() => got.length >= 5, 10000, '5 records');
  t.assert.deepEqual(bodies(got, 'nginx'), ['GET / 200 ', 'oops', 'part one part two\ttab "quoted" \u00fc ', '{"log":"broken json', 'tail  ']);
  t.assert.equal(got[0]?.rec.timeUnixNano, T1_NS);
  t.assert.equal(got[1]?.rec.attributes['log.iostream'], 'stderr');
  t.assert.equal(got[2]?.rec.timeUnixNano, T1_NS - 123_456_789n + 500_000_000n);
  t.assert.equal(got[3]?.rec.attributes['log.parse.error'], true);
});

void test('a P part read before the collector stops is joined with its F after a restart; the checkpoint stays before the P line', async (t) => {
  const { root, ckpt, got, config } = await setup(t);
  const dir = join(root, 'ns_p_u3', 'c');
  await mkdir(dir, { recursive: true });
  const file = join(dir, '0.log');
  const first = `${T1} stdout F one\n`;
  await writeFile(file, `${first}${T1} stdout P half `);
  await appendFile(file, `\n${T1} stderr F between\n`);
  const c1 = createNodeCollector(config);
  await c1.start();
  await waitFor(() => got.length >= 2, 10000, 'two records');
  await waitFor(() => c1.files()[0]?.readOffset === Buffer.byteLength(`${first}${T1} stdout P half \n${T1} stderr F between\n`), 5000, 'read to EOF');
  await waitFor(() => c1.files()[0]?.committedOffset === first.length, 5000, 'checkpoint at the P line');
  await c1.shutdown();
  t.assert.deepEqual(bodies(got, 'c'), ['one', 'between']);
  await appendFile(file, `${T1} stdout F and whole\n`);
  const c2 = createNodeCollector(testConfig(root, ckpt, config.endpoints ?? []));
  await c2.start();
  t.after(() => c2.shutdown());
  await waitFor(() => bodies(got, 'c').includes('half and whole'), 10000, 'the joined record');
  // "between" is re-read from the checkpoint (at-least-once), "one" is not
  t.assert.deepEqual(bodies(got, 'c'), ['one', 'between', 'between', 'half and whole']);
});

void test('a stderr join that straddles the checkpoint is not resent as a fragment after a restart', async (t) => {
  const { root, ckpt, got, config } = await setup(t);
  const dir = join(root, 'ns_p_u4', 'c');
  await mkdir(dir, { recursive: true });
  const file = join(dir, '0.log');
  // the checkpoint is held at the stdout P line (its F is not written yet), inside the delivered stderr join
  await writeFile(file, `${T1} stderr P s1 \n${T1} stdout P o1 \n${T1} stderr F s2\n`);
  const c1 = createNodeCollector(config);
  await c1.start();
  await waitFor(() => got.length >= 1, 10000, 'the stderr record');
  await waitFor(() => c1.files()[0]?.committedOffset === Buffer.byteLength(`${T1} stderr P s1 \n`), 5000, 'checkpoint at the stdout P line');
  await c1.shutdown();
  await appendFile(file, `${T1} stdout F o2\n`);
  const c2 = createNodeCollector(testConfig(root, ckpt, config.endpoints ?? []));
  await c2.start();
  t.after(() => c2.shutdown());
  await waitFor(() => got.length >= 2, 10000, 'the stdout record');
  await new Promise((r) => setTimeout(r, 300));
  t.assert.deepEqual(bodies(got, 'c'), ['s1 s2', 'o1 o2']);
});
