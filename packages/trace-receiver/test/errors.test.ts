import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import type { TestContext } from 'node:test';
import { configDocs } from '@sextant/pipeline';
import { TraceReceiverError, errorCodes, traceReceiverConfigSchema } from '../src/index.ts';

const readme = (): Promise<string> => readFile(new URL('../README.md', import.meta.url), 'utf8');

void test('every error code is documented in README.md with its HTTP status and gRPC code', async (t: TestContext) => {
  const text = await readme();
  const codes = Object.keys(errorCodes) as Array<keyof typeof errorCodes>;
  t.assert.ok(codes.length >= 10);
  for (const code of codes) {
    const row = text.split('\n').find((l) => l.startsWith(`| \`${code}\` |`));
    t.assert.ok(row !== undefined, `${code} is missing from README.md`);
    const cells = row.split('|').map((c) => c.trim());
    t.assert.equal(cells[2], String(errorCodes[code].status), `${code}: HTTP status`);
    t.assert.equal(cells[3], String(errorCodes[code].grpcCode), `${code}: gRPC code`);
  }
  const e = new TraceReceiverError('SEXTANT_TRACES_QUEUE_FULL', 'queue at 1 GiB');
  t.assert.equal(e.status, 429);
  t.assert.equal(e.grpcCode, 8);
  t.assert.match(e.message, /^SEXTANT_TRACES_QUEUE_FULL: queue at 1 GiB$/);
});

void test('the README configuration table is the one the schema generates', async (t: TestContext) => {
  const text = await readme();
  const start = text.indexOf('<!-- config-table:start -->\n');
  const end = text.indexOf('<!-- config-table:end -->');
  t.assert.ok(start !== -1 && end > start);
  t.assert.equal(text.slice(start + '<!-- config-table:start -->\n'.length, end), configDocs(traceReceiverConfigSchema));
});
