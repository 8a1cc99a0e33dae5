import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import type { TestContext } from 'node:test';
import { errorCodes, KubeMetadataError } from '@sextant/kube-metadata';

void test('every error code is documented in README.md with its status', async (t: TestContext) => {
  const readme = await readFile(new URL('../README.md', import.meta.url), 'utf8');
  const codes = Object.keys(errorCodes) as Array<keyof typeof errorCodes>;
  t.assert.ok(codes.length >= 5);
  for (const code of codes) {
    const row = readme.split('\n').find((l) => l.startsWith(`| \`${code}\` |`));
    t.assert.ok(row !== undefined, `${code} is missing from README.md`);
    t.assert.ok(row.includes(String(errorCodes[code].status)), `${code} row does not give status ${errorCodes[code].status}`);
  }
  const e = new KubeMetadataError('SEXTANT_KUBE_FORBIDDEN', 'pods: HTTP 403');
  t.assert.equal(e.code, 'SEXTANT_KUBE_FORBIDDEN');
  t.assert.equal(e.status, 503);
  t.assert.match(e.message, /^SEXTANT_KUBE_FORBIDDEN: pods: HTTP 403$/);
});
