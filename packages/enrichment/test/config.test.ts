import { test } from 'node:test';
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ENRICHMENT_DEFAULTS, envName, errorCodes, loadEnrichmentConfig, resolveEnrichmentConfig } from '@sextant/enrichment';

void test('defaults: port 24321, 2 s pod wait, 10 min deleted-pod grace, in-cluster source', (t) => {
  const c = resolveEnrichmentConfig({});
  t.assert.equal(c.listen.port, 24321);
  t.assert.equal(c.metadata.waitForPodMs, 2000);
  t.assert.equal(c.metadata.deletedPodGraceMs, 600_000);
  t.assert.deepEqual(c.metadata.source, { kind: 'in-cluster' });
  t.assert.deepEqual(c, ENRICHMENT_DEFAULTS);
});

void test('a YAML file is merged over the defaults and the environment overrides single keys', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sextant-enrichment-config-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'enrichment.yaml');
  writeFileSync(path, 'listen:\n  port: 9000\nmetadata:\n  source: { kind: file, path: /tmp/objects.yaml }\n  clusterName: prod\nexporter:\n  type: otlp_http\n  endpoint: http://backend:4318\n');
  const c = await loadEnrichmentConfig(path, { [envName('metadata.waitForPodMs')]: '500', SEXTANT_ENRICHMENT_QUEUE_DIR: '/data/q' });
  t.assert.equal(envName('metadata.waitForPodMs'), 'SEXTANT_ENRICHMENT_METADATA_WAIT_FOR_POD_MS');
  t.assert.equal(c.listen.port, 9000);
  t.assert.equal(c.listen.host, '0.0.0.0');
  t.assert.equal(c.metadata.clusterName, 'prod');
  t.assert.equal(c.metadata.waitForPodMs, 500);
  t.assert.equal(c.queue.dir, '/data/q');
  t.assert.deepEqual(c.exporter, { type: 'otlp_http', endpoint: 'http://backend:4318' });
});

void test('errors name the key, the bad value and the valid choices', async (t) => {
  t.assert.throws(() => resolveEnrichmentConfig({ exporter: { type: 'kafka', endpoint: 'x' } }), /exporter\.type is "kafka"; valid: one of "otlp_http", "otlp_grpc", "file"/);
  t.assert.throws(() => resolveEnrichmentConfig({ listen: { port: 70000 } }), /listen\.port is 70000; valid: an integer from 0 to 65535/);
  t.assert.throws(() => resolveEnrichmentConfig({ queue: { maxbytes: 5 } }), /unknown key queue\.maxbytes; valid keys here: dir, maxBytes/);
  t.assert.throws(() => resolveEnrichmentConfig({ metadata: { source: { kind: 'file' } } }), /metadata\.source\.path is undefined; valid: a file path/);
  t.assert.throws(() => resolveEnrichmentConfig({ metadata: { rules: [{ from: 'pod', source: 'tag', key: 'a' }] } }), /metadata\.rules\[0\]\.source is "tag"; valid: "label", "annotation"/);
  t.assert.throws(() => resolveEnrichmentConfig({}, { SEXTANT_ENRICHMENT_LISTEN_PORT: 'eighty' }), /SEXTANT_ENRICHMENT_LISTEN_PORT \(listen\.port\) is "eighty"/);
  await t.assert.rejects(loadEnrichmentConfig('/nonexistent/enrichment.yaml', {}), /SEXTANT_ENRICHMENT_CONFIG: \/nonexistent\/enrichment\.yaml cannot be read/);
});

void test('every error code is documented in the README', (t) => {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  for (const code of Object.keys(errorCodes)) t.assert.match(readme, new RegExp(`\`${code}\``), code);
});
