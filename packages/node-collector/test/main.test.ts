import { test } from 'node:test';
import { spawn } from 'node:child_process';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';

const main = new URL('../src/main.ts', import.meta.url).pathname;

void test('the daemon stays up while idle with the status server off, and SIGTERM exits 0', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'sextant-main-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await mkdir(join(dir, 'pods'));
  await mkdir(join(dir, 'cp'));
  const config = join(dir, 'c.yaml');
  await writeFile(config, `logRoot: ${join(dir, 'pods')}\ncheckpointDir: ${join(dir, 'cp')}\nserver: false\nendpoints: ["127.0.0.1:1"]\n`);
  const child = spawn(process.execPath, [main, config], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.after(() => child.kill('SIGKILL'));
  let out = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (d: string) => (out += d));
  const exited = once(child, 'exit');
  while (!out.includes('sextant-node-collector-ready') && child.exitCode === null) await sleep(50);
  t.assert.equal(out.includes('sextant-node-collector-ready'), true, 'the collector started');
  await sleep(1500);
  t.assert.equal(child.exitCode, null, 'an idle collector must keep running');
  child.kill('SIGTERM');
  const [code] = (await exited) as [number | null, NodeJS.Signals | null];
  t.assert.equal(code, 0);
});
