import { test } from 'node:test';
import type { TestContext } from 'node:test';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDiskQueue } from '../src/index.ts';
import { payloadFor } from './fixtures/payload.ts';

const child = join(import.meta.dirname, 'fixtures', 'queue-crash-child.ts');

function runAndKill(dir: string, round: number, killAfterMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [child, dir, String(round)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    let timer: NodeJS.Timeout | undefined;
    p.stdout.setEncoding('utf8');
    p.stdout.on('data', (d: string) => {
      out += d;
      // Start the clock once the child has opened the queue, so every round kills mid-traffic.
      if (timer === undefined && out.startsWith('R\n')) timer = setTimeout(() => p.kill('SIGKILL'), killAfterMs);
    });
    p.on('error', reject);
    p.on('close', (_code, signal) => {
      if (signal !== 'SIGKILL') reject(new Error(`child exited without SIGKILL (${String(signal)}): ${out.slice(-500)}`));
      else resolve(out);
    });
  });
}

void test('kill -9 at random points never loses an item whose enqueue resolved, never shows a torn one', async (t: TestContext) => {
  const dir = await mkdtemp(join(tmpdir(), 'sextant-qcrash-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const resolved = new Map<number, string>(); // id -> tag, enqueue observed resolved
  const acked = new Set<number>();
  let checkedItems = 0;
  let truncated = 0;
  for (let round = 0; round < 20; round++) {
    const out = await runAndKill(dir, round, 20 + Math.floor(Math.random() * 200));
    for (const line of out.split('\n')) {
      const [k, id, tag] = line.split(' ');
      if (k === 'E' && id !== undefined && tag !== undefined) resolved.set(Number(id), tag);
      if (k === 'A' && id !== undefined) acked.add(Number(id));
    }
    const q = await createDiskQueue({ dir, maxBytes: 64 * 1024 * 1024, segmentBytes: 256 * 1024 });
    const seen = new Set<number>();
    const depth = q.stats().depth;
    const items = depth === 0 ? [] : await q.lease(depth);
    t.assert.equal(items.length, depth);
    for (const it of items) {
      t.assert.ok(!seen.has(it.id), `id ${it.id} delivered twice`);
      seen.add(it.id);
      const meta = it.meta as { tag: string; size: number };
      t.assert.deepEqual(Buffer.from(it.payload), payloadFor(meta.tag, meta.size), `item ${it.id} (${meta.tag}) is corrupt`);
      const tag = resolved.get(it.id);
      if (tag !== undefined) t.assert.equal(meta.tag, tag, `id ${it.id} carries another item's data`);
      checkedItems++;
    }
    for (const [id, tag] of resolved) {
      if (!acked.has(id)) t.assert.ok(seen.has(id), `round ${round}: item ${id} (${tag}) resolved but lost`);
    }
    truncated += q.stats().recoveredTruncatedBytes;
    // Drain everything every other round (segments get reclaimed), half otherwise (acks out of order).
    for (const it of items) {
      if (round % 2 === 1 || it.id % 2 === 0) {
        q.ack(it.id);
        acked.add(it.id);
      } else {
        q.nack(it.id);
      }
    }
    await q.close();
  }
  t.assert.ok(resolved.size > 100, `only ${resolved.size} enqueues resolved across 20 rounds`);
  t.assert.ok(checkedItems > 0);
  t.diagnostic(`${resolved.size} enqueues observed, ${checkedItems} items verified, ${truncated} tail bytes cut on reopen (torn or recycled)`);
});
