// Config of the security sources (issue 10): defaults and the cross-key checks.
import { test } from 'node:test';
import { resolveEnrichmentConfig } from '../src/config.ts';

const base = { exporter: { endpoint: 'http://backend:4318' } };

void test('events/audit config: off by default, client-go-like Lease timings, 24322 for the webhook', (t) => {
  const c = resolveEnrichmentConfig(base);
  t.assert.equal(c.events.enabled, false);
  t.assert.equal(c.audit.enabled, false);
  t.assert.deepEqual([c.events.lease.duration, c.events.lease.renewInterval, c.events.lease.renewDeadline, c.events.lease.retryInterval], [15_000, 5_000, 10_000, 2_000]);
  t.assert.equal(c.events.lease.name, 'sextant-events');
  t.assert.deepEqual(c.events.namespaces, []);
  t.assert.equal(c.audit.listen.port, 24322);
});

void test('events/audit config: cross-key checks name the key and what would be valid', (t) => {
  t.assert.throws(() => resolveEnrichmentConfig({ ...base, metadata: { source: 'file', path: '/x' }, events: { enabled: true } }), /events\.enabled: true needs the API server/);
  t.assert.throws(() => resolveEnrichmentConfig({ ...base, metadata: { source: 'in-cluster' }, events: { lease: { duration: '10s', renewDeadline: '10s' } } }), /events\.lease\.renewDeadline: 10000 ms is not below events\.lease\.duration/);
  t.assert.throws(() => resolveEnrichmentConfig({ ...base, audit: { enabled: true } }), /audit\.enabled: true needs audit\.token or audit\.tls\.clientCaFile/);
  t.assert.throws(() => resolveEnrichmentConfig({ ...base, audit: { enabled: true, token: 'x' } }), /audit\.token: a bearer token needs audit\.tls\.certFile/);
  t.assert.throws(() => resolveEnrichmentConfig({ ...base, audit: { tls: { certFile: '/c' } } }), /audit\.tls: certFile and keyFile go together/);
  const ok = resolveEnrichmentConfig({ ...base, audit: { enabled: true, token: 'file:/run/secrets/audit-token', tls: { certFile: '/c', keyFile: '/k' } } });
  t.assert.deepEqual(ok.audit.token, { fromFile: '/run/secrets/audit-token' });
});
