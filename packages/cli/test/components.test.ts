// The component subcommands as the chart runs them: `sextant <component> --config file.yaml` in a real process,
// serving on loopback ports picked by the OS, stopped by SIGTERM.
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { suite, test } from 'node:test';
import type { TestContext } from 'node:test';
import { stringify } from 'yaml';

const main = fileURLToPath(new URL('../src/main.ts', import.meta.url));

interface Running {
  /** Resolves with the first stdout JSON line for which `pick` returns a port. */
  readonly port: Promise<number>;
  readonly exited: Promise<number | null>;
  stderr(): string;
  kill(signal: NodeJS.Signals): void;
}

function sextant(args: string[], pick: (line: Record<string, unknown>) => number | undefined, env: Record<string, string> = {}): Running {
  const child = spawn(process.execPath, [main, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let stderr = '';
  let stdout = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const port = new Promise<number>((resolve, reject) => {
    child.stdout.on('data', (c: Buffer) => {
      stdout += c.toString();
      for (const line of stdout.split('\n')) {
        if (!line.startsWith('{')) continue;
        try {
          const p = pick(JSON.parse(line) as Record<string, unknown>);
          if (p !== undefined) resolve(p);
        } catch {
          // a partial line; the rest comes with the next chunk
        }
      }
    });
    void exited.then((code) => reject(new Error(`exited ${code} before it was ready; stdout: ${stdout} stderr: ${stderr}`)));
  });
  port.catch(() => undefined);
  return { port, exited, stderr: () => stderr, kill: (s) => child.kill(s) };
}

async function tempDir(t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'sextant-cli-components-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function writeConfig(dir: string, config: Record<string, unknown>): Promise<string> {
  const path = join(dir, 'config.yaml');
  await writeFile(path, stringify(config));
  return path;
}

/** An objects file with no pods: enough for the metadata caches to sync. */
async function emptyObjects(dir: string): Promise<string> {
  const path = join(dir, 'objects.json');
  await writeFile(path, JSON.stringify({ apiVersion: 'v1', kind: 'List', items: [] }));
  return path;
}

async function status(port: number, path: string): Promise<number> {
  return (await fetch(`http://127.0.0.1:${port}${path}`)).status;
}

// A backend that is never reached: nothing is sent in these tests.
const BACKEND = 'http://127.0.0.1:9';

const CASES = [
  {
    component: 'enrichment',
    config: async (dir: string): Promise<Record<string, unknown>> => ({
      listen: { host: '127.0.0.1', port: 0 },
      metadata: { source: 'file', path: await emptyObjects(dir) },
      queue: { dir: join(dir, 'queue') },
      exporter: { protocol: 'otlp_http', endpoint: BACKEND },
    }),
    pick: (l: Record<string, unknown>): number | undefined => (l['msg'] === 'enrichment service listening' ? (l['address'] as { port: number }).port : undefined),
    badKey: { server: { port: 24321 } },
    badName: /SEXTANT_CONFIG_UNKNOWN_KEY: server: unknown key; valid keys: listen,/,
  },
  {
    component: 'trace-receiver',
    config: async (dir: string): Promise<Record<string, unknown>> => ({
      grpc: { host: '127.0.0.1', port: 0 },
      http: { host: '127.0.0.1', port: 0 },
      telemetry: { host: '127.0.0.1', port: 0 },
      kube: { source: 'file', path: await emptyObjects(dir) },
      queue: { dir: join(dir, 'queue') },
      exporter: { endpoint: BACKEND },
    }),
    pick: (l: Record<string, unknown>): number | undefined => (l['msg'] === 'trace receiver started' ? (l['telemetryPort'] as number) : undefined),
    badKey: { exporter: { endpoint: BACKEND, credentials: 'x' } },
    badName: /SEXTANT_CONFIG_UNKNOWN_KEY: exporter\.credentials: unknown key/,
  },
  {
    component: 'node-collector',
    config: (dir: string): Promise<Record<string, unknown>> =>
      Promise.resolve({
        logRoot: join(dir, 'pods'),
        checkpointDir: join(dir, 'checkpoints'),
        endpoints: ['127.0.0.1:9'],
        server: { host: '127.0.0.1', port: 0 },
      }),
    pick: (l: Record<string, unknown>): number | undefined => (l['msg'] === 'sextant-node-collector-ready' ? (l['statusPort'] as number) : undefined),
    badKey: { logRoot: '/var/log/pods', metrics: { interval: 30 } },
    badName: /SEXTANT_COLLECTOR_CONFIG_INVALID: .*metrics\.interval=30; valid: .*intervalSeconds/,
  },
] as const;

void suite('sextant <component> --config', () => {
  for (const c of CASES) {
    void test(`sextant ${c.component} --config serves on a free port, is ready, and exits 0 after SIGTERM`, async (t: TestContext) => {
      const dir = await tempDir(t);
      const config = await writeConfig(dir, await c.config(dir));
      const proc = sextant([c.component, '--config', config], c.pick, { NODE_NAME: 'node-1', SEXTANT_LOG_LEVEL: 'info' });
      t.after(() => proc.kill('SIGKILL'));
      const port = await proc.port;
      t.assert.ok(port > 0);
      t.assert.equal(await status(port, '/healthz'), 200);
      let ready = 0;
      // readiness follows the metadata sync / first scan, which may complete just after the listener opens
      for (let i = 0; i < 100 && ready !== 200; i++) {
        ready = await status(port, '/readyz');
        if (ready !== 200) await new Promise((r) => setTimeout(r, 100));
      }
      t.assert.equal(ready, 200, proc.stderr());
      proc.kill('SIGTERM');
      t.assert.equal(await proc.exited, 0, proc.stderr());
    });

    void test(`sextant ${c.component} with a config key its loader rejects exits 2 and names the key`, async (t: TestContext) => {
      const dir = await tempDir(t);
      const config = await writeConfig(dir, { ...(await c.config(dir)), ...c.badKey });
      const proc = sextant([c.component, '--config', config], () => undefined, { NODE_NAME: 'node-1' });
      t.after(() => proc.kill('SIGKILL'));
      t.assert.equal(await proc.exited, 2, proc.stderr());
      t.assert.match(proc.stderr(), c.badName);
    });
  }

  void test('a component subcommand with an unknown option exits 2 with its usage; --help exits 0', async (t: TestContext) => {
    await Promise.all(
      ['enrichment', 'trace-receiver', 'node-collector'].map(async (component) => {
        const bad = sextant([component, '--conf', 'x.yaml'], () => undefined);
        const help = sextant([component, '--help'], () => undefined);
        t.assert.equal(await bad.exited, 2);
        t.assert.match(bad.stderr(), new RegExp(`SEXTANT_CLI_USAGE: Unknown option '--conf'\\nUsage: sextant ${component} --config <file.yaml>`));
        t.assert.equal(await help.exited, 0);
      }),
    );
    const noConfig = sextant(['trace-receiver'], () => undefined, { SEXTANT_CONFIG: '' });
    t.assert.equal(await noConfig.exited, 2);
    t.assert.match(noConfig.stderr(), /SEXTANT_CLI_USAGE: no --config <file> given/);
  });
});

void test('sextant version and help load no component package and not the demo (they are imported when their subcommand runs)', async (t: TestContext) => {
  const dir = await tempDir(t);
  // Records every module the process resolves, and prints the list on exit.
  const hook = join(dir, 'record.mjs');
  await writeFile(
    hook,
    `import { registerHooks } from 'node:module';
const seen = [];
registerHooks({ resolve(specifier, context, next) { const r = next(specifier, context); seen.push(r.url); return r; } });
process.on('exit', () => process.stderr.write(JSON.stringify(seen)));
`,
  );
  const { commands } = await import('../src/commands.ts');
  const { demoCommand } = await import('../src/demo/command.ts');
  t.assert.equal(commands.get('demo')?.summary, demoCommand.summary);
  for (const args of [['version'], ['help']]) {
    const child = spawn(process.execPath, ['--import', pathToFileURL(hook).href, main, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    t.assert.equal(await new Promise((resolve) => child.on('exit', resolve)), 0, stderr);
    const urls = JSON.parse(stderr) as string[];
    t.assert.ok(urls.some((u) => u.endsWith('/packages/cli/src/commands.ts')), 'the hook saw the CLI load');
    t.assert.deepStrictEqual(
      urls.filter((u) => /\/packages\/(enrichment|trace-receiver|node-collector|pipeline)\/|\/src\/demo\/|@opentelemetry/.test(u)),
      [],
      `sextant ${args.join(' ')}`,
    );
  }
});
