import { test } from 'node:test';
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { enrichmentConfigDocs, errorCodes, loadEnrichmentConfig, resolveEnrichmentConfig } from '@sextant/enrichment';

void test('defaults: port 24321, 2 s pod wait, 10 min deleted-pod grace, in-cluster source, 1 GiB queue', (t) => {
  const c = resolveEnrichmentConfig({ exporter: { endpoint: 'http://backend:4318' } });
  t.assert.equal(c.listen.port, 24321);
  t.assert.equal(c.metadata.waitForPod, 2000);
  t.assert.equal(c.metadata.deletedPodGrace, 600_000);
  t.assert.equal(c.metadata.source, 'in-cluster');
  t.assert.equal(c.queue.maxBytes, 1024 ** 3);
  t.assert.equal(c.exporter.protocol, 'otlp_http');
  t.assert.deepEqual(resolveEnrichmentConfig(c), c, 'resolving is idempotent');
});

void test('a YAML file is merged over the defaults and the environment overrides single keys', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sextant-enrichment-config-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'enrichment.yaml');
  writeFileSync(path, 'listen:\n  port: 9000\nmetadata:\n  source: file\n  path: /tmp/objects.yaml\n  clusterName: prod\nexporter:\n  endpoint: http://backend:4318\n');
  const c = loadEnrichmentConfig({ file: path, env: { SEXTANT_METADATA__WAIT_FOR_POD: '500ms', SEXTANT_QUEUE__DIR: '/data/q', SEXTANT_QUEUE__MAX_BYTES: '2Gi' } });
  t.assert.equal(c.listen.port, 9000);
  t.assert.equal(c.listen.host, '0.0.0.0');
  t.assert.equal(c.metadata.clusterName, 'prod');
  t.assert.equal(c.metadata.waitForPod, 500);
  t.assert.equal(c.queue.dir, '/data/q');
  t.assert.equal(c.queue.maxBytes, 2 * 1024 ** 3);
});

void test('errors name the key, the bad value and the valid choices', (t) => {
  const ok = { exporter: { endpoint: 'http://b:4318' } };
  t.assert.throws(() => resolveEnrichmentConfig({ exporter: { protocol: 'kafka', endpoint: 'x' } }), /exporter\.protocol: "kafka" is not one of otlp_http, otlp_grpc, splunk_hec, file/);
  t.assert.throws(() => resolveEnrichmentConfig({ ...ok, listen: { port: 70000 } }), /listen\.port: 70000 is not an integer >= 0 <= 65535/);
  t.assert.throws(() => resolveEnrichmentConfig({ ...ok, queue: { maxbytes: 5 } }), /queue\.maxbytes: unknown key \(did you mean queue\.maxBytes\?\)/);
  t.assert.throws(() => resolveEnrichmentConfig({ ...ok, metadata: { source: 'file' } }), /metadata\.path: undefined is not a file path \(required when metadata\.source is file\)/);
  t.assert.throws(() => resolveEnrichmentConfig({}), /exporter\.endpoint: undefined is not a URL/);
  t.assert.throws(() => resolveEnrichmentConfig({ ...ok, metadata: { rules: [{ from: 'pod', source: 'tag', key: 'a' }] } }), /metadata\.rules.*source.*"tag" is not one of label, annotation/);
  t.assert.throws(() => resolveEnrichmentConfig({ ...ok, metadata: { rules: [{ from: 'pod', source: 'label' }] } }), /metadata\.rules\[0\].*needs exactly one of key and keyRegex/);
  t.assert.throws(() => resolveEnrichmentConfig({ ...ok, metadata: { rules: [{ from: 'pod', source: 'label', keyRegex: 'team-(' }] } }), /metadata\.rules\[0\]\.keyRegex: "team-\(" is not a valid regular expression/);
  t.assert.throws(() => loadEnrichmentConfig({ env: { SEXTANT_LISTEN__PORT: 'eighty', SEXTANT_EXPORTER__ENDPOINT: 'http://b' } }), /listen\.port: "eighty" is not an integer.*\(from SEXTANT_LISTEN__PORT\)/);
  t.assert.throws(() => loadEnrichmentConfig({ file: '/nonexistent/enrichment.yaml', env: {} }), /SEXTANT_CONFIG_FILE_UNREADABLE/);
});

void test('the README documents every config key and every error code', (t) => {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  t.assert.equal(readme.includes(enrichmentConfigDocs()), true, 'README "Configuration" table is the generated one (enrichmentConfigDocs())');
  for (const code of Object.keys(errorCodes)) t.assert.match(readme, new RegExp(`\`${code}\``), code);
});
