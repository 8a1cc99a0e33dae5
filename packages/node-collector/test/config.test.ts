// Configuration: YAML (snake_case or camelCase) → environment → defaults, validated with coded errors that name
// the bad value; every error code is documented in the package README.
import { test } from 'node:test';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CollectorError, ERROR_CODES, loadConfig, resolveConfig } from '../src/index.ts';
import { tempDir } from './helpers/util.ts';

void test('defaults, environment and YAML merge in that order of precedence', async (t) => {
  const env = { NODE_NAME: 'node-7', POD_NAMESPACE: 'sextant', POD_NAME: 'nc-1', SEXTANT_ENDPOINTS: '10.0.0.1:24321, 10.0.0.2:24321' };
  const d = resolveConfig({}, env);
  t.assert.equal(d.logRoot, '/var/log/pods');
  t.assert.equal(d.startAt, 'beginning');
  t.assert.equal(d.maxRecordBytes, 1 << 20);
  t.assert.equal(d.compression, 'zstd');
  t.assert.equal(d.nodeName, 'node-7');
  t.assert.deepEqual(d.endpoints, ['10.0.0.1:24321', '10.0.0.2:24321']);
  t.assert.deepEqual(d.exclude, [{ namespace: 'sextant', pod: 'nc-1' }]);
  t.assert.deepEqual(d.server, { port: 2020, host: '0.0.0.0' });

  const dir = await tempDir(t, 'nc-config-');
  const file = join(dir, 'c.yaml');
  await writeFile(file, ['log_root: /logs', 'start_at: end', 'exclude_self: false', 'max_record_bytes: 65536', 'batch:', '  max_records: 10', 'service:', '  name: enrichment.sextant.svc:24321'].join('\n'));
  const c = await loadConfig(file, env);
  t.assert.equal(c.logRoot, '/logs');
  t.assert.equal(c.startAt, 'end');
  t.assert.deepEqual(c.exclude, []);
  t.assert.equal(c.maxRecordBytes, 65536);
  t.assert.equal(c.batch.maxRecords, 10);
  t.assert.equal(c.batch.maxAgeMs, 200);
  t.assert.deepEqual(c.service, { name: 'enrichment.sextant.svc', port: 24321, resolveIntervalMs: 10000, dnsServers: undefined });
});

void test('invalid values are refused with a coded error naming the value and what is valid', async (t) => {
  const env = { SEXTANT_ENDPOINTS: '127.0.0.1:1' };
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ startAt: 'middle' }, /startAt="middle"; valid: beginning, end/],
    [{ start_at: 'middle' }, /startAt="middle"/],
    [{ maxRecordBytes: -1 }, /maxRecordBytes=-1; valid: a number >= 16/],
    [{ compression: 'lz4' }, /compression="lz4"; valid: zstd, gzip, none/],
    [{ endpoints: ['no-port'] }, /endpoints=\["no-port"\]; valid: a list of "host:port"/],
    [{ exclude: [{ namespase: 'x' }] }, /exclude\[0\]\.namespase="x"/],
    [{ multiline: [{ firstLine: '(' }] }, /multiline\[0\]\.firstLine="\("; valid: a JavaScript regular expression/],
    [{ logRot: '/x' }, /logRot="\/x"; valid: logRoot, /],
  ];
  for (const [input, message] of cases) {
    t.assert.throws(() => resolveConfig(input, env), (e: unknown) => e instanceof CollectorError && e.code === 'SEXTANT_COLLECTOR_CONFIG_INVALID' && message.test(e.message));
  }
  t.assert.throws(() => resolveConfig({}, {}), /at least one of endpoints or service/);
  t.assert.throws(() => resolveConfig({ include: [{ pod: '/([/' }] }, env), (e: unknown) => e instanceof CollectorError && e.code === 'SEXTANT_COLLECTOR_PATTERN_INVALID' && e.message.includes('/([/'));
  await t.assert.rejects(loadConfig('/nonexistent/sextant.yaml', env), (e: unknown) => e instanceof CollectorError && e.code === 'SEXTANT_COLLECTOR_CONFIG_UNREADABLE');
});

void test('every error code is documented in the package README', async (t) => {
  const readme = await readFile(new URL('../README.md', import.meta.url), 'utf8');
  for (const code of ERROR_CODES) t.assert.equal(readme.includes(`\`${code}\``), true, `${code} is documented`);
});
