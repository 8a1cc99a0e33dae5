// Shipping: several endpoints with failover, endpoints from a headless Service's A records (a real DNS server on
// loopback), gzip, and a permanent refusal that is counted rather than silently stalling or dropping.
import { test } from 'node:test';
import type { TestContext } from 'node:test';
import { appendFile, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createNodeCollector } from '../src/index.ts';
import type { NodeCollectorConfig } from '../src/index.ts';
import { startDnsServer } from './helpers/dns.ts';
import { startReceiver } from './helpers/receiver.ts';
import { metricValue, tempDir, testConfig, waitFor } from './helpers/util.ts';

const TS = '2026-11-24T06:15:00.000000001Z';
const cri = (from: number, n: number): string => Array.from({ length: n }, (_, i) => `${TS} stdout F line ${from + i}\n`).join('');

async function logDir(t: TestContext) {
  const root = await tempDir(t, 'nc-exp-root-');
  const ckpt = await tempDir(t, 'nc-exp-ckpt-');
  const dir = join(root, 'ns_p_u1', 'c');
  await mkdir(dir, { recursive: true });
  return { root, ckpt, file: join(dir, '0.log') };
}

function collect() {
  const seen = new Map<string, number>();
  return {
    seen,
    onBatch: (rl: { records: { body: Buffer }[] }) => {
      for (const r of rl.records) seen.set(r.body.toString(), (seen.get(r.body.toString()) ?? 0) + 1);
    },
    has: (n: number) => Array.from({ length: n }, (_, i) => `line ${i}`).every((l) => seen.has(l)),
  };
}

async function start(t: TestContext, root: string, ckpt: string, endpoints: string[], extra: NodeCollectorConfig = {}) {
  const c = createNodeCollector(testConfig(root, ckpt, endpoints, extra));
  await c.start();
  t.after(() => c.shutdown());
  return c;
}

void test('two endpoints: one refusing connections, then the other answering 503; every line arrives, gzip-compressed', async (t) => {
  const { root, ckpt, file } = await logDir(t);
  const got = collect();
  const a = await startReceiver(got.onBatch);
  const b = await startReceiver(got.onBatch);
  t.after(() => a.close());
  t.after(() => b.close());
  await a.stop();
  await writeFile(file, cri(0, 3000));
  await start(t, root, ckpt, [a.endpoint, b.endpoint], { compression: 'gzip', batch: { maxRecords: 100, maxAgeMs: 20 }, unhealthyForMs: 1000 });
  await waitFor(() => got.has(3000), 15000, 'lines via b');
  t.assert.equal(a.requests, 0);
  await a.resume();
  b.setMode('unavailable');
  await appendFile(file, cri(3000, 3000));
  await waitFor(() => got.has(6000), 15000, 'lines via a');
  t.assert.equal(a.requests > 0 && b.requests > 0, true, 'both endpoints served requests');
  t.assert.deepEqual([...a.encodings, ...b.encodings], ['gzip', 'gzip']);
  t.assert.equal([...got.seen.values()].every((n) => n === 1), true, 'a 503 is not a partial ack: no duplicates');
});

void test('endpoints come from the A records of a headless Service name, re-resolved periodically', async (t) => {
  const { root, ckpt, file } = await logDir(t);
  const dns = await startDnsServer();
  t.after(() => dns.close());
  const got = collect();
  const r1 = await startReceiver(got.onBatch, 0, '127.0.0.1');
  t.after(() => r1.close());
  // a second "pod" of the Service on another loopback address, same port
  const r2 = await startReceiver(got.onBatch, r1.port, '127.0.0.2');
  t.after(() => r2.close());
  dns.set('sextant-enrichment.sextant.svc.cluster.local', ['127.0.0.1']);
  await writeFile(file, cri(0, 1000));
  await start(t, root, ckpt, [], {
    service: { name: 'sextant-enrichment.sextant.svc.cluster.local', port: r1.port, resolveIntervalMs: 100, dnsServers: [dns.address] },
  });
  await waitFor(() => got.has(1000), 15000, 'lines via the first address');
  t.assert.equal(r2.requests, 0);
  dns.set('sextant-enrichment.sextant.svc.cluster.local', ['127.0.0.2']);
  await r1.stop();
  await appendFile(file, cri(1000, 1000));
  await waitFor(() => got.has(2000), 15000, 'lines via the re-resolved address');
  t.assert.equal(r2.requests > 0, true);
});

void test('a permanent refusal (400) is counted as dropped with its reason and does not stall the file', async (t) => {
  const { root, ckpt, file } = await logDir(t);
  const got = collect();
  const rx = await startReceiver(got.onBatch);
  t.after(() => rx.close());
  rx.setMode('bad-request');
  await writeFile(file, cri(0, 10));
  const c = await start(t, root, ckpt, [rx.endpoint]);
  const metricsUrl = `http://127.0.0.1:${c.statusAddress()?.port}/metrics`;
  await waitFor(async () => (metricValue(await (await fetch(metricsUrl)).text(), 'sextant_node_collector_dropped_total', '{reason="rejected_400"}') ?? 0) >= 10, 10000, 'the drop to be counted');
  rx.setMode('ok');
  await appendFile(file, cri(10, 5));
  await waitFor(() => got.seen.size === 5, 10000, 'later lines');
  t.assert.deepEqual([...got.seen.keys()], ['line 10', 'line 11', 'line 12', 'line 13', 'line 14']);
  const text = await (await fetch(metricsUrl)).text();
  t.assert.equal(metricValue(text, 'sextant_node_collector_dropped_total', '{reason="rejected_400"}'), 10);
});
