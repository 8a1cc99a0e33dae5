// The dispatcher as a user runs it: a real `node src/main.ts` process.
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import type { TestContext } from 'node:test';
import { promisify } from 'node:util';

const execFileP = promisify(execFile);
const main = fileURLToPath(new URL('../src/main.ts', import.meta.url));

async function sextant(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await execFileP(process.execPath, [main, ...args], { env: { ...process.env, ...env } });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

void test('sextant version prints the package version and the Node version', async (t: TestContext) => {
  const pkg = JSON.parse(await readFile(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  const r = await sextant(['version']);
  t.assert.equal(r.code, 0);
  t.assert.equal(r.stdout, `sextant ${pkg.version} (node ${process.version})\n`);
});

void test('sextant help lists the subcommands; no arguments is a usage error', async (t: TestContext) => {
  const r = await sextant(['help']);
  t.assert.equal(r.code, 0);
  for (const c of ['privileges', 'networkpolicies', 'version']) t.assert.match(r.stdout, new RegExp(`^  ${c} `, 'm'));
  const none = await sextant([]);
  t.assert.equal(none.code, 2);
  t.assert.match(none.stdout, /^Usage: sextant <command>/);
});

void test('an unknown subcommand exits 2 and names the valid ones', async (t: TestContext) => {
  const r = await sextant(['frobnicate']);
  t.assert.equal(r.code, 2);
  t.assert.match(r.stderr, /SEXTANT_CLI_UNKNOWN_COMMAND: unknown command "frobnicate"; valid commands: .*privileges/);
});

void test('privileges without a helm binary exits 1 with a coded error that says how to fix it', async (t: TestContext) => {
  const r = await sextant(['privileges'], { SEXTANT_HELM: '/nonexistent/helm' });
  t.assert.equal(r.code, 1);
  t.assert.match(r.stderr, /SEXTANT_CLI_HELM_NOT_FOUND: cannot run "\/nonexistent\/helm"; install helm .* or set SEXTANT_HELM/);
});

void test('privileges rejects an unknown option and an unknown output format', async (t: TestContext) => {
  const bad = await sextant(['privileges', '--valuez', 'x.yaml']);
  t.assert.equal(bad.code, 2);
  t.assert.match(bad.stderr, /SEXTANT_CLI_USAGE: .*--valuez/);
  const fmt = await sextant(['privileges', '-o', 'xml']);
  t.assert.equal(fmt.code, 2);
  t.assert.match(fmt.stderr, /--output "xml" is not one of table, json/);
});
