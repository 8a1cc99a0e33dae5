import { test } from 'node:test';
import type { TestContext } from 'node:test';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { configDocs, defineConfig, envName, isSextantError, loadConfig, parseBytes, parseDuration, s } from '../src/index.ts';

const schema = defineConfig({
  queue: s.object({
    dir: s.string({ default: '/var/lib/sextant/queue', description: 'Queue directory (PVC mount).' }),
    maxBytes: s.bytes({ default: '512Mi', description: 'Disk bound of the queue.' }),
  }),
  exporter: s.object({
    protocol: s.enum(['otlp_grpc', 'otlp_http', 'splunk_hec', 'file'] as const, { default: 'otlp_grpc', description: 'Backend protocol.' }),
    endpoint: s.string({ description: 'Backend URL.' }),
    timeout: s.duration({ default: '10s', description: 'Per-request timeout.' }),
    headers: s.map(s.secret(), { description: 'Extra headers; values may come from files.' }),
    concurrency: s.number({ integer: true, min: 1, max: 64, default: 4, description: 'Requests in flight.' }),
    compression: s.enum(['none', 'gzip', 'zstd'] as const, { default: 'gzip' }),
  }),
  tags: s.list(s.string(), { default: [] }),
  debug: s.boolean({ default: false }),
});

async function yamlFile(t: { after: (fn: () => Promise<void>) => void }, text: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'sextant-config-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const p = join(dir, 'config.yaml');
  await writeFile(p, text);
  return p;
}

function errorOf(fn: () => unknown): Error {
  try {
    fn();
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected an error');
}

void test('byte sizes and durations parse the usual spellings and refuse nonsense', (t: TestContext) => {
  t.assert.equal(parseBytes('512Mi'), 512 * 1024 * 1024);
  t.assert.equal(parseBytes('2Gi'), 2 * 1024 ** 3);
  t.assert.equal(parseBytes('100MB'), 100e6);
  t.assert.equal(parseBytes(4096), 4096);
  t.assert.equal(parseBytes('abc'), undefined);
  t.assert.equal(parseBytes('5 parsecs'), undefined);
  t.assert.equal(parseDuration('250ms'), 250);
  t.assert.equal(parseDuration('5s'), 5000);
  t.assert.equal(parseDuration('1m30s'), 90_000);
  t.assert.equal(parseDuration('1500'), 1500);
  t.assert.equal(parseDuration('soon'), undefined);
});

void test('file, env and overrides merge over defaults, env values coerced by type', async (t: TestContext) => {
  const file = await yamlFile(t, 'exporter:\n  endpoint: https://backend:4318\n  protocol: otlp_http\nqueue:\n  maxBytes: 1Gi\n');
  const cfg = loadConfig({
    schema, file,
    env: {
      SEXTANT_QUEUE__MAX_BYTES: '2Gi',
      SEXTANT_EXPORTER__TIMEOUT: '250ms',
      SEXTANT_EXPORTER__HEADERS: 'X-Tenant=a,Authorization=file:/var/run/secrets/token',
      SEXTANT_TAGS: 'a,b',
      SEXTANT_DEBUG: 'true',
    },
    overrides: { exporter: { concurrency: 8 } },
  });
  t.assert.equal(cfg.queue.maxBytes, 2 * 1024 ** 3, 'env beats the file');
  t.assert.equal(cfg.queue.dir, '/var/lib/sextant/queue', 'default');
  t.assert.equal(cfg.exporter.protocol, 'otlp_http', 'file beats the default');
  t.assert.equal(cfg.exporter.timeout, 250);
  t.assert.equal(cfg.exporter.concurrency, 8, 'overrides beat everything');
  t.assert.deepEqual(cfg.exporter.headers, { 'X-Tenant': 'a', Authorization: { fromFile: '/var/run/secrets/token' } });
  t.assert.deepEqual(cfg.tags, ['a', 'b']);
  t.assert.equal(cfg.debug, true);
});

void test('errors name the key path, the bad value, the valid choices, and the env variable', async (t: TestContext) => {
  const file = await yamlFile(t, 'exporter:\n  endpoint: x\n  protocol: grcp\n  concurrency: 0\n  timout: 5s\n');
  const err = errorOf(() => loadConfig({ schema, file, env: { SEXTANT_QUEUE__MAX_BYTES: 'abc' } }));
  t.assert.ok(isSextantError(err, 'SEXTANT_CONFIG_INVALID'));
  t.assert.match(err.message, /^SEXTANT_CONFIG_INVALID: /);
  t.assert.match(err.message, /queue\.maxBytes: "abc" is not a byte size \(e\.g\. 512Mi, 2Gi\) \(from SEXTANT_QUEUE__MAX_BYTES\)/);
  t.assert.match(err.message, /exporter\.protocol: "grcp" is not one of otlp_grpc, otlp_http, splunk_hec, file/);
  t.assert.match(err.message, /exporter\.concurrency: 0 is not an integer >= 1 <= 64/);
  t.assert.match(err.message, /exporter\.timout: unknown key \(did you mean exporter\.timeout\?\)/);
});

void test('a missing required key and an unreadable file are reported', (t: TestContext) => {
  const err = errorOf(() => loadConfig({ schema, env: {} }));
  t.assert.match(err.message, /exporter\.endpoint: is required \(string\)/);
  const err2 = errorOf(() => loadConfig({ schema, file: '/nonexistent/sextant.yaml', env: {} }));
  t.assert.ok(isSextantError(err2, 'SEXTANT_CONFIG_FILE_UNREADABLE'));
  t.assert.match(err2.message, /\/nonexistent\/sextant\.yaml/);
});

void test('secret values never appear in error messages', (t: TestContext) => {
  const sch = defineConfig({ token: s.secret(), n: s.number() });
  const err = errorOf(() => loadConfig({ schema: sch, env: {}, overrides: { token: 12345678, n: 1 } }));
  t.assert.doesNotMatch(err.message, /12345678/);
  t.assert.match(err.message, /token: \(secret value\) is not a secret/);
});

void test('docs list every key with env name, type and default', (t: TestContext) => {
  const md = configDocs(schema);
  t.assert.match(md, /\| `queue\.maxBytes` \| `SEXTANT_QUEUE__MAX_BYTES` \| byte size \| `512Mi` \| Disk bound of the queue\. \|/);
  t.assert.match(md, /\| `exporter\.protocol` \| `SEXTANT_EXPORTER__PROTOCOL` \| otlp_grpc \\\| otlp_http \\\| splunk_hec \\\| file \| `otlp_grpc` \|/);
  t.assert.match(md, /`exporter\.endpoint` .* \| `\(required\)` \|/);
  t.assert.equal(envName('exporter.tls.caFile'), 'SEXTANT_EXPORTER__TLS__CA_FILE');
});
