// Discovery and checkpoints: which files are read, from where, and where a restart resumes.
import { test } from 'node:test';
import type { TestContext } from 'node:test';
import { appendFile, copyFile, mkdir, readFile, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { createNodeCollector, resolveConfig } from '../src/index.ts';
import type { NodeCollectorConfig } from '../src/index.ts';
import { startReceiver } from './helpers/receiver.ts';
import type { DecodedRecord, DecodedResourceLogs } from './helpers/otlp-decode.ts';
import { tempDir, testConfig, waitFor } from './helpers/util.ts';

const TS = '2026-11-24T06:15:00.000000001Z';
const cri = (...msgs: string[]): string => msgs.map((m) => `${TS} stdout F ${m}\n`).join('');

async function setup(t: TestContext) {
  const root = await tempDir(t, 'nc-disc-root-');
  const ckpt = await tempDir(t, 'nc-disc-ckpt-');
  const got: { resource: DecodedResourceLogs['resource']; rec: DecodedRecord }[] = [];
  const rx = await startReceiver((rl) => {
    for (const rec of rl.records) got.push({ resource: rl.resource, rec });
  });
  t.after(() => rx.close());
  const bodies = (): string[] => got.map((g) => g.rec.body.toString('utf8')).sort();
  const run = async (extra: NodeCollectorConfig = {}, env?: NodeJS.ProcessEnv) => {
    const c = createNodeCollector(resolveConfig(testConfig(root, ckpt, [rx.endpoint], extra), env ?? {}));
    await c.start();
    t.after(() => c.shutdown());
    return c;
  };
  const container = async (pod: string, name: string): Promise<string> => {
    const d = join(root, pod, name);
    await mkdir(d, { recursive: true });
    return d;
  };
  return { root, ckpt, got, bodies, run, container };
}

void test('include/exclude by namespace, pod and container (glob and /regex/), and the collector own pod is excluded', async (t) => {
  const s = await setup(t);
  await writeFile(join(await s.container('shop_cart-1_u1', 'app'), '0.log'), cri('cart app'));
  await writeFile(join(await s.container('shop_cart-1_u1', 'istio-proxy'), '0.log'), cri('cart sidecar'));
  await writeFile(join(await s.container('kube-system_dns-1_u2', 'dns'), '0.log'), cri('dns'));
  await writeFile(join(await s.container('shop_pay-2_u3', 'app'), '0.log'), cri('pay app'));
  await writeFile(join(await s.container('sextant_nc-x9_u4', 'collector'), '0.log'), cri('self'));
  await writeFile(join(await s.container('other_thing_u5', 'app'), '0.log'), cri('other ns'));
  await s.run(
    { include: [{ namespace: 'shop' }, { namespace: 'sext*' }], exclude: [{ namespace: 'kube-*' }, { container: '/^istio-/' }, { pod: 'pay-?' }] },
    { POD_NAMESPACE: 'sextant', POD_NAME: 'nc-x9' },
  );
  await waitFor(() => s.got.length >= 1, 10000, 'a record');
  // give every other file the chance to arrive
  await new Promise((r) => setTimeout(r, 700));
  t.assert.deepEqual(s.bodies(), ['cart app']);
});

void test('rotated plain siblings are read at startup, .gz rotations never; new pods are read from their first line', async (t) => {
  const s = await setup(t);
  const d = await s.container('ns_p_u1', 'c');
  await writeFile(join(d, '0.log.20261124-061400.gz'), gzipSync(cri('in gz')));
  await writeFile(join(d, '0.log.20261124-061500'), cri('rotated 1', 'rotated 2'));
  await writeFile(join(d, '0.log'), cri('live 1'));
  await writeFile(join(d, 'notes.txt'), cri('not a log'));
  await s.run();
  await waitFor(() => s.got.length >= 3, 10000, '3 records');
  // a pod that appears later: its directory, container directory and file are created in a burst
  const d2 = await s.container('ns_late_u2', 'c');
  await writeFile(join(d2, '0.log'), cri('first line of a new pod'));
  await appendFile(join(d2, '0.log'), cri('second line'));
  await waitFor(() => s.got.length >= 5, 10000, '5 records');
  await new Promise((r) => setTimeout(r, 500));
  t.assert.deepEqual(s.bodies(), ['first line of a new pod', 'live 1', 'rotated 1', 'rotated 2', 'second line']);
  const rotated = s.got.find((g) => g.rec.body.toString() === 'rotated 1');
  t.assert.equal(rotated?.resource['log.file.path'], join(d, '0.log.20261124-061500'));
});

void test('start_at end: files present at startup start at their end; files that appear later start at 0', async (t) => {
  const s = await setup(t);
  const d = await s.container('ns_p_u1', 'c');
  await writeFile(join(d, '0.log'), cri('old 1', 'old 2'));
  const c = await s.run({ startAt: 'end' });
  await waitFor(() => c.files().length === 1, 5000, 'the file to be tracked');
  await appendFile(join(d, '0.log'), cri('new 1'));
  await writeFile(join(d, '1.log'), cri('restarted container line'));
  await waitFor(() => s.got.length >= 2, 10000, '2 records');
  await new Promise((r) => setTimeout(r, 500));
  t.assert.deepEqual(s.bodies(), ['new 1', 'restarted container line']);
  t.assert.equal(s.got.find((g) => g.rec.body.toString() === 'restarted container line')?.resource['k8s.container.restart_count'], 1n);
});

void test('a restart resumes from the persisted checkpoint; a file whose first bytes changed (inode reuse) is read from 0', async (t) => {
  const s = await setup(t);
  const d = await s.container('ns_p_u1', 'c');
  const a = join(d, '0.log');
  const b = join(d, '1.log');
  await writeFile(a, cri('a1', 'a2'));
  await writeFile(b, cri('b1'));
  const c1 = await s.run();
  await waitFor(() => s.got.length >= 3, 10000, '3 records');
  await waitFor(() => c1.files().every((f) => f.committedOffset === f.readOffset), 5000, 'acks');
  await c1.shutdown();
  const saved = JSON.parse(await readFile(join(s.ckpt, 'checkpoints.json'), 'utf8')) as { files: { path: string; offset: number }[] };
  t.assert.deepEqual(saved.files.map((f) => f.offset).sort(), [cri('b1').length, cri('a1', 'a2').length].sort());
  // while the collector is down: a appended to; b rewritten in place with new content (same dev+inode, new first bytes)
  await appendFile(a, cri('a3'));
  await writeFile(b, cri('B1 different content that is longer than before', 'B2'));
  await s.run();
  await waitFor(() => s.got.length >= 6, 10000, '6 records');
  await new Promise((r) => setTimeout(r, 500));
  t.assert.deepEqual(s.bodies(), ['B1 different content that is longer than before', 'B2', 'a1', 'a2', 'a3', 'b1']);
});

void test('multiline: a first-line regex joins continuation lines per stream; an idle group is flushed after its timeout', async (t) => {
  const s = await setup(t);
  const d = await s.container('ns_java_u1', 'jvm');
  const lines = [
    `${TS} stdout F 2026-11-24 ERROR boom`,
    `${TS} stderr F 2026-11-24 WARN on stderr`,
    `${TS} stdout F \tat a.b.C(C.java:1)`,
    `${TS} stdout P \tat d.e.F(F.ja`,
    `${TS} stdout F va:2) `,
    `${TS} stderr F \tcontinued on stderr`,
    `${TS} stdout F 2026-11-24 INFO next`,
  ];
  await writeFile(join(d, '0.log'), lines.join('\n') + '\n');
  await s.run({ multiline: [{ container: 'jvm', firstLine: '^\\d{4}-\\d{2}-\\d{2} ', flushAfterMs: 300 }] });
  await waitFor(() => s.got.length >= 3, 10000, '3 records');
  await new Promise((r) => setTimeout(r, 500));
  t.assert.deepEqual(s.bodies(), ['2026-11-24 ERROR boom\n\tat a.b.C(C.java:1)\n\tat d.e.F(F.java:2) ', '2026-11-24 INFO next', '2026-11-24 WARN on stderr\n\tcontinued on stderr']);
});

void test('a closed rotated file that grows is opened again; if its inode now holds other content, that is read from 0', async (t) => {
  const s = await setup(t);
  const d = await s.container('ns_p_u1', 'c');
  const rotated = join(d, '0.log.20261124-061500');
  await writeFile(rotated, cri('r1'));
  const c = await s.run({ rotatedCloseAfterMs: 100, pollIntervalMs: 50 });
  await waitFor(() => s.got.length >= 1 && c.files()[0]?.open === false, 10000, 'the rotated file to be read and closed');
  await appendFile(rotated, cri('late write'));
  await waitFor(() => s.got.length >= 2, 10000, 'the late write');
  await waitFor(() => c.files()[0]?.open === false, 10000, 'closed again');
  // same inode (O_TRUNC), other first bytes: a new file for the collector
  await writeFile(rotated, cri('X new content in the same inode, longer than the old one was'));
  await waitFor(() => s.got.length >= 3, 10000, 'the new content');
  await new Promise((r) => setTimeout(r, 300));
  t.assert.deepEqual(s.bodies(), ['X new content in the same inode, longer than the old one was', 'late write', 'r1']);
});

void test('a copytruncate while the collector is down: the copy continues at the original checkpoint, the original restarts at 0', async (t) => {
  const s = await setup(t);
  const d = await s.container('ns_p_u1', 'c');
  const live = join(d, '0.log');
  const first = 'l1 the first line is long enough for a full fingerprint of the file, which is 128 bytes by default';
  await writeFile(live, cri(first, 'l2'));
  const c1 = await s.run();
  await waitFor(() => s.got.length >= 2 && c1.files().every((f) => f.committedOffset === f.readOffset), 10000, 'acks');
  await c1.shutdown();
  await appendFile(live, cri('l3 written while down'));
  await copyFile(live, join(d, '0.log.20261124-061500'));
  await truncate(live, 0);
  await appendFile(live, cri('n1 after the truncation'));
  await s.run();
  await waitFor(() => s.got.length >= 4, 10000, '4 records');
  await new Promise((r) => setTimeout(r, 500));
  t.assert.deepEqual(s.bodies(), [first, 'l2', 'l3 written while down', 'n1 after the truncation']);
});
