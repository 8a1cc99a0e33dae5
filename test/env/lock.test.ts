// The build lock: one builder at a time across processes, and a lock left by a killed
// builder does not block the next run forever.
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { TestContext } from 'node:test';
import { stagingModules, withLock } from './tools.ts';

const toolsUrl = new URL('./tools.ts', import.meta.url).href;

/** A child Node process that appends `<tag>-start`/`<tag>-end` to `logFile` while holding the lock. */
function holder(lockDir: string, logFile: string, tag: string, holdMs: number): Promise<number> {
  const code = `
    import { appendFileSync } from 'node:fs';
    const { withLock } = await import(${JSON.stringify(toolsUrl)});
    await withLock(${JSON.stringify(lockDir)}, () => {}, async () => {
      appendFileSync(${JSON.stringify(logFile)}, '${tag}-start\\n');
      await new Promise((r) => setTimeout(r, ${holdMs}));
      appendFileSync(${JSON.stringify(logFile)}, '${tag}-end\\n');
    });`;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', code], { stdio: 'inherit' });
    child.on('error', reject);
    child.on('exit', (c) => resolve(c ?? 1));
  });
}

void test('processes that race for the build lock run one after the other', async (t: TestContext) => {
  const dir = await mkdtemp(join(tmpdir(), 'sextant-lock-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const log = join(dir, 'log');
  await writeFile(log, '');
  const codes = await Promise.all(['a', 'b', 'c'].map((tag) => holder(join(dir, 'tool.lock'), log, tag, 300)));
  t.assert.deepStrictEqual(codes, [0, 0, 0]);
  const lines = (await readFile(log, 'utf8')).trim().split('\n');
  t.assert.strictEqual(lines.length, 6);
  for (let i = 0; i < lines.length; i += 2) {
    const tag = lines[i]?.split('-')[0];
    t.assert.deepStrictEqual([lines[i], lines[i + 1]], [`${tag}-start`, `${tag}-end`], `no overlap: ${lines.join(', ')}`);
  }
});

void test('a lock whose owner process is dead is broken and retaken', async (t: TestContext) => {
  const dir = await mkdtemp(join(tmpdir(), 'sextant-lock-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const lockDir = join(dir, 'tool.lock');
  // A pid that is certainly gone: a child that already exited.
  const dead = spawn(process.execPath, ['-e', '']);
  const deadPid = dead.pid;
  await new Promise((r) => dead.on('exit', r));
  await mkdir(lockDir);
  await writeFile(join(lockDir, 'owner'), `${hostname()} ${deadPid}`);
  let ran = false;
  await withLock(lockDir, () => undefined, async () => {
    ran = true;
    t.assert.strictEqual(await readFile(join(lockDir, 'owner'), 'utf8'), `${hostname()} ${process.pid}`);
  });
  t.assert.ok(ran);
});

void test('the kube-apiserver replaces are generated from k8s.io/kubernetes go.mod v0.0.0 requires', (t: TestContext) => {
  const goMod = [
    'module k8s.io/kubernetes',
    'require (',
    '\tgithub.com/foo/bar v1.2.3',
    '\tk8s.io/api v0.0.0',
    '\tk8s.io/utils v0.0.0-20250820121507-0af2bda4dd1d',
    '\tk8s.io/client-go v0.0.0 // indirect',
    ')',
    'require k8s.io/apimachinery v0.0.0',
    'replace k8s.io/api => ./staging/src/k8s.io/api',
  ].join('\n');
  t.assert.deepStrictEqual(stagingModules(goMod), ['k8s.io/api', 'k8s.io/apimachinery', 'k8s.io/client-go']);
});
