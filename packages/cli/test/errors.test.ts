import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import type { TestContext } from 'node:test';
import { errorCodes } from '@sextant/cli';

void test('every CLI error code is documented in the README with its exit code', async (t: TestContext) => {
  const readme = await readFile(new URL('../README.md', import.meta.url), 'utf8');
  for (const [code, spec] of Object.entries(errorCodes)) {
    t.assert.match(readme, new RegExp(`\\| \`${code}\` \\| ${spec.exitCode} \\|`), `${code} is not documented`);
  }
});
