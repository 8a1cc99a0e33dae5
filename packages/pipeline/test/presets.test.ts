import { test } from 'node:test';
import type { TestContext } from 'node:test';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  configDocs, defineConfig, exporterConfig, exporterFromConfig, isSextantError, loadConfig, queueConfig, queueFromConfig, retryPolicyFromConfig,
} from '../src/index.ts';
import { defer } from './fixtures/defer.ts';

const schema = defineConfig({ queue: queueConfig(), exporter: exporterConfig() });

void test('shared queue/exporter schemas load from env and build a working queue and exporter', async (t: TestContext) => {
  const dir = await mkdtemp(join(tmpdir(), 'sextant-presets-'));
  defer(t, () => rm(dir, { recursive: true, force: true }));
  const cfg = loadConfig({
    schema,
    env: {
      SEXTANT_QUEUE__DIR: join(dir, 'q'),
      SEXTANT_QUEUE__MAX_BYTES: '16Mi',
      SEXTANT_EXPORTER__PROTOCOL: 'file',
      SEXTANT_EXPORTER__FILE__PATH: join(dir, 'out-{signal}.bin'),
      SEXTANT_EXPORTER__RETRY__MAX_ELAPSED_TIME: '0',
    },
  });
  t.assert.equal(cfg.queue.maxBytes, 16 * 1024 * 1024);
  t.assert.equal(cfg.exporter.retry.initialInterval, 1000);
  t.assert.equal(retryPolicyFromConfig(cfg.exporter.retry).options.maxElapsedMs, undefined, '0 means retry forever');
  const q = await queueFromConfig(cfg.queue);
  defer(t, () => q.close());
  t.assert.equal(q.stats().maxBytes, 16 * 1024 * 1024);
  const ex = exporterFromConfig(cfg.exporter);
  t.assert.deepEqual(await ex.export({ signal: 'logs', payload: Buffer.from('hi') }), { kind: 'ok' });
  await ex.shutdown();
  t.assert.deepEqual(await readFile(join(dir, 'out-logs.bin')), Buffer.from([0, 0, 0, 2, 104, 105]));
});

void test('cross-key rules name the key: endpoint required, zstd not for gRPC, HEC needs a token and a mapping', (t: TestContext) => {
  const load = (env: Record<string, string>) => loadConfig({ schema, env }).exporter;
  const err = (fn: () => unknown): string => {
    try {
      fn();
    } catch (e) {
      t.assert.ok(isSextantError(e, 'SEXTANT_CONFIG_INVALID'));
      return (e as Error).message;
    }
    return 'no error';
  };
  t.assert.match(err(() => exporterFromConfig(load({ SEXTANT_EXPORTER__PROTOCOL: 'otlp_http' }))), /exporter\.endpoint: is required for protocol otlp_http/);
  t.assert.match(err(() => exporterFromConfig(load({ SEXTANT_EXPORTER__ENDPOINT: 'h:4317', SEXTANT_EXPORTER__COMPRESSION: 'zstd' }))), /exporter\.compression: "zstd" is not supported by otlp_grpc/);
  t.assert.match(err(() => exporterFromConfig(load({ SEXTANT_EXPORTER__PROTOCOL: 'splunk_hec', SEXTANT_EXPORTER__ENDPOINT: 'https://s:8088' }))), /exporter\.splunk\.token: is required/);
  t.assert.match(err(() => exporterFromConfig(load({ SEXTANT_EXPORTER__PROTOCOL: 'splunk_hec', SEXTANT_EXPORTER__ENDPOINT: 'https://s:8088', SEXTANT_EXPORTER__SPLUNK__TOKEN: 'file:/t' }))), /splunk_hec is not available/);
  t.assert.match(err(() => loadConfig({ schema, env: { SEXTANT_EXPORTER__PROTOCOL: 'grcp' } })), /exporter\.protocol: "grcp" is not one of otlp_grpc, otlp_http, splunk_hec, file \(from SEXTANT_EXPORTER__PROTOCOL\)/);
});

void test('the docs table covers the nested shared keys', (t: TestContext) => {
  const md = configDocs(schema);
  t.assert.match(md, /\| `exporter\.tls\.caFile` \| `SEXTANT_EXPORTER__TLS__CA_FILE` \| string \|/);
  t.assert.match(md, /\| `exporter\.retry\.maxElapsedTime` \| `SEXTANT_EXPORTER__RETRY__MAX_ELAPSED_TIME` \| duration \| `0` \|/);
  t.assert.match(md, /\| `queue\.maxBytes` \| `SEXTANT_QUEUE__MAX_BYTES` \| byte size \| `2Gi` \|/);
});

void test('the README table of shared keys is the generated one', async (t: TestContext) => {
  const readme = await readFile(join(import.meta.dirname, '..', 'README.md'), 'utf8');
  const m = /<!-- config-docs:start -->\n([\s\S]*?)<!-- config-docs:end -->/.exec(readme);
  t.assert.equal(m?.[1], configDocs(schema), 'regenerate the table in README.md with configDocs()');
});
