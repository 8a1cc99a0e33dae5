// The enricher's segment path (frame.ts: new Resource bytes + views of the original scopes and
// spans) must produce exactly the bytes @sextant/otlp's fuzzed splice produces for the same
// attributes, for every request shape, and fall back to that splice for shapes it does not take.
import { test } from 'node:test';
import type { TestContext } from 'node:test';
import { createMetadataCache } from '@sextant/kube-metadata';
import { countRecords, decodeTraceRequest, encodeTraceRequest, readResources, rewriteResources } from '@sextant/otlp';
import type { TraceRequestInit } from '@sextant/otlp';
import { createEnricher } from '../src/index.ts';
import type { EnrichOutcome } from '../src/index.ts';
import { PODS, writePodsFile } from './fixtures.ts';

const str = (key: string, value: string): { key: string; value: { value: { case: 'stringValue'; value: string } } } => ({ key, value: { value: { case: 'stringValue', value } } });

function rs(attrs: Array<[string, string]>, spans: number, seed: number, withResource = true): NonNullable<TraceRequestInit['resourceSpans']>[number] {
  return {
    ...(withResource ? { resource: { attributes: attrs.map(([k, v]) => str(k, v)), droppedAttributesCount: seed % 2 } } : {}),
    scopeSpans: [
      {
        scope: { name: `scope-${seed}` },
        spans: Array.from({ length: spans }, (_, i) => ({
          traceId: new Uint8Array(16).fill(seed + 1),
          spanId: new Uint8Array(8).fill(i + 1),
          name: `s${seed}-${i}`,
          attributes: [str('i', String(i))],
          events: i % 2 === 0 ? [{ name: 'ev', timeUnixNano: 5n }] : [],
        })),
      },
    ],
    schemaUrl: seed % 3 === 0 ? 'https://opentelemetry.io/schemas/1.26.0' : '',
  };
}

/** A ResourceSpans field (tag 1, length-delimited) around `content`: a one-resource request. */
function wrap(content: Uint8Array): Buffer {
  const len: number[] = [];
  let n = content.length;
  while (n >= 0x80) {
    len.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  len.push(n);
  return Buffer.concat([Buffer.from([0x0a, ...len]), content]);
}

function joined(o: EnrichOutcome): Buffer {
  return Buffer.concat(o.segments.map((s) => Buffer.from(s)), o.size);
}

async function enricherFor(t: TestContext): Promise<ReturnType<typeof createEnricher>> {
  const pods = writePodsFile();
  const cache = createMetadataCache({ source: { kind: 'file', path: pods.path, watch: false } });
  await cache.start();
  t.after(async () => {
    await cache.shutdown();
    pods.cleanup();
  });
  return createEnricher(cache, { waitForPodMs: 0 });
}

void test('segments equal the codec splice with the same attributes: by uid, by name, by peer, unknown, no Resource, several resources', async (t: TestContext) => {
  const enricher = await enricherFor(t);
  const requests: Uint8Array[] = [
    encodeTraceRequest({ resourceSpans: [rs([['service.name', 'a']], 3, 1)] }),
    encodeTraceRequest({ resourceSpans: [rs([['k8s.pod.uid', PODS.api.uid], ['service.name', 'unknown_service:node']], 2, 2), rs([['k8s.pod.name', 'web'], ['k8s.namespace.name', 'shop']], 4, 3), rs([['k8s.pod.uid', 'nobody']], 1, 4)] }),
    encodeTraceRequest({ resourceSpans: [rs([], 2, 5, false), rs([['k8s.container.name', 'main']], 1, 6)] }),
    encodeTraceRequest({ resourceSpans: [] }),
  ];
  // A ResourceSpans whose Resource comes after its scopes (legal field order).
  const scopesOnly = encodeTraceRequest({ resourceSpans: [rs([], 2, 7, false)] });
  const resourceField = encodeTraceRequest({ resourceSpans: [{ resource: { attributes: [str('service.name', 'late')] } }] });
  const content = Buffer.concat([scopesOnly.subarray(2), resourceField.subarray(2)]);
  requests.push(wrap(content));
  for (const [n, bytes] of requests.entries()) {
    for (const peer of [PODS.web.ip, undefined, '192.0.2.1']) {
      const out = await enricher.enrich(bytes, peer);
      const got = joined(out);
      const attrs = readResources(got, 'traces');
      const expected = rewriteResources(bytes, 'traces', (_a, i) => attrs[i] ?? []);
      t.assert.deepEqual(got, Buffer.from(expected), `request ${n}, peer ${String(peer)}: byte-identical to the codec splice`);
      t.assert.equal(out.size, got.length);
      t.assert.equal(countRecords(got, 'traces'), countRecords(bytes, 'traces'), 'no span lost');
      t.assert.deepEqual(decodeTraceRequest(got).resourceSpans.map((r) => r.scopeSpans), decodeTraceRequest(bytes).resourceSpans.map((r) => r.scopeSpans), 'scopes and spans unchanged');
    }
  }
  const [byUid, byName, unknown] = readResources(joined(await enricher.enrich(requests[1]!, undefined)), 'traces');
  const get = (a: typeof byUid, k: string): unknown => a?.find((kv) => kv.key === k)?.value;
  t.assert.equal(get(byUid, 'k8s.pod.name'), 'api');
  t.assert.equal(get(byUid, 'service.name'), 'api-5d8f7c9b4', 'the SDK default service.name is replaced by the derived one (the ReplicaSet here)');
  t.assert.equal(get(byName, 'k8s.pod.uid'), PODS.web.uid);
  t.assert.equal(get(unknown, 'k8s.pod.name'), undefined);
  const [peerOnly] = readResources(joined(await enricher.enrich(requests[0]!, PODS.web.ip)), 'traces');
  t.assert.equal(get(peerOnly, 'k8s.pod.uid'), PODS.web.uid, 'by the connection\'s address');
  t.assert.equal(get(peerOnly, 'service.name'), 'a', 'the application\'s own service.name is kept');
  // The same request again comes from the caches and gives the same bytes.
  t.assert.deepEqual(joined(await enricher.enrich(requests[1]!, undefined)), joined(await enricher.enrich(requests[1]!, undefined)));
});

void test('excluded pods are cut out of the segments; unusual framing falls back to the codec splice; malformed input is refused', async (t: TestContext) => {
  const enricher = await enricherFor(t);
  const bytes = encodeTraceRequest({ resourceSpans: [rs([['k8s.pod.uid', PODS.excluded.uid]], 3, 1), rs([['k8s.pod.uid', PODS.web.uid]], 2, 2)] });
  const out = await enricher.enrich(bytes, undefined);
  t.assert.equal(out.excludedResources, 1);
  t.assert.equal(out.excludedSpans, 3);
  t.assert.equal(countRecords(joined(out), 'traces'), 2);
  const all = await enricher.enrich(encodeTraceRequest({ resourceSpans: [rs([['k8s.pod.uid', PODS.excluded.uid]], 3, 1)] }), undefined);
  t.assert.equal(all.size, 0, 'nothing left to export');

  // Two Resource fields in one ResourceSpans merge on decode: the codec splice handles it.
  const r1 = encodeTraceRequest({ resourceSpans: [{ resource: { attributes: [str('k8s.pod.uid', PODS.web.uid)] } }] }).subarray(2);
  const r2 = encodeTraceRequest({ resourceSpans: [{ resource: { attributes: [str('service.name', 'twice')] } }] }).subarray(2);
  const spans = encodeTraceRequest({ resourceSpans: [rs([], 1, 3, false)] }).subarray(2);
  const content = Buffer.concat([r1, spans, r2]);
  const twice = wrap(content);
  const merged = joined(await enricher.enrich(twice, undefined));
  const attrs = readResources(merged, 'traces')[0] ?? [];
  t.assert.ok(attrs.some((kv) => kv.key === 'k8s.pod.name' && kv.value === 'web'));
  t.assert.ok(attrs.some((kv) => kv.key === 'service.name' && kv.value === 'twice'));
  t.assert.equal(countRecords(merged, 'traces'), 1);

  const good = encodeTraceRequest({ resourceSpans: [rs([['service.name', 'x']], 2, 1)] });
  for (const bad of [good.subarray(0, good.length - 3), Buffer.from('garbage, not protobuf'), Buffer.from([0x0a, 0x05, 0x0a, 0x09, 0x01])]) {
    await t.assert.rejects(enricher.enrich(bad, PODS.web.ip), (err: Error) => err.name === 'OtlpDecodeError', `refused: ${bad.toString('hex').slice(0, 20)}`);
  }
});
