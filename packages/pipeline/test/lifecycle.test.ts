import { test } from 'node:test';
import type { TestContext } from 'node:test';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { component, runComponents } from '../src/index.ts';

const child = join(import.meta.dirname, 'fixtures', 'lifecycle-child.ts');

function runUntilReady(args: string[]): Promise<{ out: string; code: number | null }> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [child, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.setEncoding('utf8');
    p.stdout.on('data', (d: string) => {
      out += d;
      if (d.includes('ready')) p.kill('SIGTERM');
    });
    p.on('error', reject);
    p.on('close', (code) => resolve({ out, code }));
  });
}

void test('SIGTERM: started downstream first, stopped upstream first, exit 0', async (t: TestContext) => {
  const { out, code } = await runUntilReady([]);
  t.assert.deepEqual(out.trim().split('\n'), [
    'start queue', 'start exporter', 'start receiver', 'ready', 'stop receiver', 'stop exporter', 'stop queue',
  ]);
  t.assert.equal(code, 0);
});

void test('a shutdown that outlives its deadline exits 1 instead of hanging', async (t: TestContext) => {
  const { out, code } = await runUntilReady(['slow']);
  t.assert.match(out, /stop exporter/);
  t.assert.doesNotMatch(out, /stop queue/);
  t.assert.equal(code, 1);
});

void test('a failed start stops what already started and rethrows', async (t: TestContext) => {
  const events: string[] = [];
  const ok = (n: string) => component(n, () => { events.push(`stop ${n}`); return Promise.resolve(); }, () => { events.push(`start ${n}`); return Promise.resolve(); });
  const bad = component('listener', () => Promise.resolve(), () => Promise.reject(new Error('EADDRINUSE')));
  await t.assert.rejects(runComponents([bad, ok('exporter'), ok('queue')], { signals: [] }), /EADDRINUSE/);
  t.assert.deepEqual(events, ['start queue', 'start exporter', 'stop exporter', 'stop queue']);
});
