import { test } from 'node:test';
import type { TestContext } from 'node:test';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SextantError, errorCodes } from '../src/index.ts';

void test('every error code is documented in README.md with its HTTP status', async (t: TestContext) => {
  const readme = await readFile(join(import.meta.dirname, '..', 'README.md'), 'utf8');
  for (const [code, spec] of Object.entries(errorCodes)) {
    t.assert.match(readme, new RegExp(`\\| \`${code}\` \\| ${spec.status} \\|`), `${code} is not in the README error table`);
  }
  const section = readme.slice(readme.indexOf('## Error codes'));
  const documented = [...section.matchAll(/^\| `(SEXTANT_[A-Z_]+)` \| \d+ \|/gm)].map((m) => m[1]);
  t.assert.deepEqual(documented.filter((c) => c !== undefined && !(c in errorCodes)), [], 'README documents codes that do not exist');
});

void test('SextantError carries code, status and a message that starts with the code', (t: TestContext) => {
  const e = new SextantError('SEXTANT_PIPELINE_QUEUE_FULL', 'queue is full: 10 of 10 bytes');
  t.assert.equal(e.code, 'SEXTANT_PIPELINE_QUEUE_FULL');
  t.assert.equal(e.status, 429);
  t.assert.equal(e.message, 'SEXTANT_PIPELINE_QUEUE_FULL: queue is full: 10 of 10 bytes');
});
