// Builds the real tools the tests run against from upstream's Go modules, once per
// machine, into .cache/test-env/<tool>-<version>/. See /work/shared/TOOLCHAIN.md for
// why each recipe looks the way it does (proxy allowlist, replace directives, builder bug).
import { spawn } from 'node:child_process';
import { accessSync, constants as fsConstants, createWriteStream, existsSync, readFileSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Repository root, resolved from this file so cwd does not matter. */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
/** Where built tools live: `<root>/.cache/test-env/<tool>-<version>/`. Overridable for experiments. */
export const CACHE_DIR = process.env['SEXTANT_TEST_ENV_CACHE'] ?? join(REPO_ROOT, '.cache', 'test-env');

export type ToolName = 'kube-apiserver' | 'etcd' | 'helm' | 'cyclonus' | 'otelcol';

export interface ToolSpec {
  readonly name: ToolName;
  readonly version: string;
  /** Binary file name inside `<dir>/bin/`. */
  readonly binary: string;
  /** Builds the binary into `<outDir>/bin/<binary>`; `work` is a scratch dir. */
  build(ctx: BuildContext): Promise<void>;
}

interface BuildContext {
  readonly outDir: string;
  readonly work: string;
  readonly go: string;
  readonly env: NodeJS.ProcessEnv;
  readonly log: (line: string) => void;
  run(
    cmd: string,
    args: readonly string[],
    opts?: { cwd?: string; env?: NodeJS.ProcessEnv; allowFail?: boolean; onStdout?: (s: string) => void },
  ): Promise<number>;
}

export interface EnsureResult {
  readonly name: ToolName;
  readonly version: string;
  readonly path: string;
  /** 'built' when this call compiled it, 'cached' when it was already there (or another process built it). */
  readonly status: 'built' | 'cached';
  /** Wall-clock seconds this call took (the cold build time when status is 'built'). */
  readonly seconds: number;
  /** Seconds the original cold build took, as recorded next to the binary. */
  readonly coldBuildSeconds: number | undefined;
}

const KUBE_VERSION = 'v1.37.2';
const KUBE_STAGING_VERSION = 'v0.37.2';
const ETCD_VERSION = 'v3.6.7';
const OTEL_VERSION = 'v0.160.0';

export const TOOLS: Readonly<Record<ToolName, ToolSpec>> = {
  'kube-apiserver': {
    name: 'kube-apiserver',
    version: KUBE_VERSION,
    binary: 'kube-apiserver',
    async build(ctx) {
      // k8s.io/kubernetes pins its staging repos at v0.0.0 with `replace` directives, which
      // `go install` refuses. Mirror those replaces (at the published staging version) in a
      // throwaway module. Generated from upstream's own go.mod so a version bump needs no edits.
      const kubeGoMod = await goModFileOf(ctx, 'k8s.io/kubernetes', KUBE_VERSION);
      const staging = stagingModules(kubeGoMod);
      if (staging.length === 0) throw new Error(`no k8s.io/* v0.0.0 requires found in k8s.io/kubernetes@${KUBE_VERSION} go.mod`);
      ctx.log(`replacing ${staging.length} staging modules: ${staging.join(' ')}`);
      const goMod = [
        'module sextant.local/test-env/kube-apiserver',
        '',
        `go ${goDirective(kubeGoMod)}`,
        '',
        `require k8s.io/kubernetes ${KUBE_VERSION}`,
        '',
        'replace (',
        ...staging.map((m) => `\t${m} => ${m} ${KUBE_STAGING_VERSION}`),
        ')',
        '',
      ].join('\n');
      await writeFile(join(ctx.work, 'go.mod'), goMod);
      await ctx.run(ctx.go, ['get', `k8s.io/kubernetes/cmd/kube-apiserver@${KUBE_VERSION}`], { cwd: ctx.work });
      const ldflags = [
        `-X k8s.io/component-base/version.gitVersion=${KUBE_VERSION}`,
        `-X k8s.io/component-base/version.gitMajor=${KUBE_VERSION.slice(1).split('.')[0] ?? ''}`,
        `-X k8s.io/component-base/version.gitMinor=${KUBE_VERSION.split('.')[1] ?? ''}`,
        '-X k8s.io/component-base/version.gitTreeState=clean',
      ].join(' ');
      await ctx.run(ctx.go, ['build', '-ldflags', ldflags, '-o', join(ctx.outDir, 'bin', 'kube-apiserver'), 'k8s.io/kubernetes/cmd/kube-apiserver'], {
        cwd: ctx.work,
      });
    },
  },
  etcd: {
    name: 'etcd',
    version: ETCD_VERSION,
    binary: 'etcd',
    async build(ctx) {
      // etcd's server module replaces its sibling modules with local paths; pin them instead.
      const siblings = ['go.etcd.io/etcd/api/v3', 'go.etcd.io/etcd/client/pkg/v3', 'go.etcd.io/etcd/client/v3', 'go.etcd.io/etcd/pkg/v3'];
      const goMod = [
        'module sextant.local/test-env/etcd',
        '',
        'go 1.24',
        '',
        `require go.etcd.io/etcd/server/v3 ${ETCD_VERSION}`,
        '',
        'replace (',
        ...siblings.map((m) => `\t${m} => ${m} ${ETCD_VERSION}`),
        ')',
        '',
      ].join('\n');
      await writeFile(join(ctx.work, 'go.mod'), goMod);
      await ctx.run(ctx.go, ['get', `go.etcd.io/etcd/server/v3@${ETCD_VERSION}`], { cwd: ctx.work });
      await ctx.run(ctx.go, ['build', '-o', join(ctx.outDir, 'bin', 'etcd'), 'go.etcd.io/etcd/server/v3'], { cwd: ctx.work });
    },
  },
  helm: {
    name: 'helm',
    version: 'v4.3.1',
    binary: 'helm',
    async build(ctx) {
      await ctx.run(ctx.go, ['install', 'helm.sh/helm/v4/cmd/helm@v4.3.1'], { env: { GOBIN: join(ctx.outDir, 'bin') } });
    },
  },
  cyclonus: {
    name: 'cyclonus',
    version: 'v0.5.6',
    binary: 'cyclonus',
    async build(ctx) {
      await ctx.run(ctx.go, ['install', 'github.com/mattfenwick/cyclonus/cmd/cyclonus@v0.5.6'], { env: { GOBIN: join(ctx.outDir, 'bin') } });
    },
  },
  otelcol: {
    name: 'otelcol',
    version: OTEL_VERSION,
    binary: 'otelcol',
    async build(ctx) {
      const builderBin = join(ctx.work, 'builder-bin');
      await ctx.run(ctx.go, ['install', `go.opentelemetry.io/collector/cmd/builder@${OTEL_VERSION}`], { env: { GOBIN: builderBin } });
      const core = (path: string): string => `  - gomod: go.opentelemetry.io/collector/${path} ${OTEL_VERSION}`;
      const contrib = (path: string): string => `  - gomod: github.com/open-telemetry/opentelemetry-collector-contrib/${path} ${OTEL_VERSION}`;
      const manifest = [
        'dist:',
        '  name: otelcol',
        '  description: OpenTelemetry Collector for the Sextant test environment',
        '  module: sextant.local/test-env/otelcol',
        `  version: ${OTEL_VERSION.slice(1)}`,
        '  output_path: ./dist',
        'receivers:',
        core('receiver/otlpreceiver'),
        contrib('receiver/filelogreceiver'),
        'processors:',
        core('processor/batchprocessor'),
        contrib('processor/k8sattributesprocessor'),
        'exporters:',
        core('exporter/otlpexporter'),
        core('exporter/otlphttpexporter'),
        core('exporter/debugexporter'),
        contrib('exporter/fileexporter'),
        '',
      ].join('\n');
      await writeFile(join(ctx.work, 'manifest.yaml'), manifest);
      // The builder's own `go mod tidy` fails here: a test-only dependency of fileexporter
      // (contrib extension/encoding/otlpencodingextension) is refused by the proxy. It has
      // already written dist/go.mod and the sources by then, so build those ourselves.
      const code = await ctx.run(join(builderBin, 'builder'), ['--config', 'manifest.yaml'], { cwd: ctx.work, allowFail: true });
      const dist = join(ctx.work, 'dist');
      if (!existsSync(join(dist, 'go.mod')) || !existsSync(join(dist, 'main.go'))) {
        throw new Error(`otelcol builder exited ${code} without writing dist/go.mod and dist/main.go`);
      }
      if (code !== 0) ctx.log(`builder exited ${code} (expected: its go mod tidy step is refused); building dist/ directly`);
      const goMod = await readFile(join(dist, 'go.mod'), 'utf8');
      await writeFile(join(dist, 'go.mod'), goMod.replace(/^module .*$/m, 'module sextant.local/test-env/otelcol'));
      await ctx.run(ctx.go, ['build', '-o', join(ctx.outDir, 'bin', 'otelcol'), '.'], { cwd: dist, env: { GOFLAGS: withGoFlag(ctx.env['GOFLAGS'], '-mod=mod') } });
    },
  },
};

/** Build order for 2 cores: two lanes, the API server (longest) with etcd, which reuses its modules. */
export const BUILD_LANES: readonly (readonly ToolName[])[] = [
  ['kube-apiserver', 'etcd'],
  ['helm', 'cyclonus', 'otelcol'],
];

export function toolDir(name: ToolName): string {
  const t = TOOLS[name];
  return join(CACHE_DIR, `${t.name}-${t.version}`);
}

export function toolPath(name: ToolName): string {
  return join(toolDir(name), 'bin', TOOLS[name].binary);
}

function withGoFlag(current: string | undefined, flag: string): string {
  const flags = (current ?? '').split(/\s+/).filter((f) => f !== '' && !f.startsWith(flag.split('=')[0] ?? flag));
  return [...flags, flag].join(' ');
}

function isExecutableFile(p: string): boolean {
  try {
    if (!statSync(p).isFile()) return false;
    accessSync(p, fsConstants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Finds the go command: $GO, then PATH, then the usual install locations. */
export function findGo(): string {
  const candidates: string[] = [];
  if (process.env['GO']) candidates.push(process.env['GO']);
  for (const dir of (process.env['PATH'] ?? '').split(delimiter)) if (dir) candidates.push(join(dir, 'go'));
  if (process.env['GOROOT']) candidates.push(join(process.env['GOROOT'], 'bin', 'go'));
  const home = process.env['HOME'] ?? '';
  candidates.push('/usr/local/go/bin/go', '/usr/lib/go/bin/go', '/usr/bin/go', join(home, 'go', 'bin', 'go'), join(home, 'sdk', 'go', 'bin', 'go'));
  for (const c of candidates) if (isExecutableFile(c)) return c;
  throw new Error(`test-env: Go not found. Tried $GO, PATH and ${candidates.slice(-5).join(', ')}. Install Go 1.26 (https://go.dev/dl/) or set GO=/path/to/go.`);
}

/** Module paths that k8s.io/kubernetes requires at exactly v0.0.0 (its staging repos). */
export function stagingModules(goMod: string): string[] {
  const out = new Set<string>();
  for (const m of goMod.matchAll(/^\s*(?:require\s+)?(k8s\.io\/[^\s]+)\s+v0\.0\.0(?:\s|$)/gm)) {
    if (m[1]) out.add(m[1]);
  }
  return [...out].sort();
}

function goDirective(goMod: string): string {
  return /^go\s+(\S+)/m.exec(goMod)?.[1] ?? '1.25';
}

async function goModFileOf(ctx: BuildContext, mod: string, version: string): Promise<string> {
  // `go mod download -json` fetches through GOPROXY and reports where the .mod file landed.
  let json = '';
  const code = await ctx.run(ctx.go, ['mod', 'download', '-json', `${mod}@${version}`], {
    cwd: ctx.work,
    env: { GOFLAGS: withGoFlag(ctx.env['GOFLAGS'], '-mod=mod') },
    allowFail: true,
    onStdout: (s: string) => {
      json += s;
    },
  });
  if (code !== 0) throw new Error(`go mod download ${mod}@${version} exited ${code}`);
  const info = JSON.parse(json) as { GoMod?: string; Error?: string };
  if (!info.GoMod) throw new Error(`go mod download ${mod}@${version}: ${info.Error ?? 'no GoMod in answer'}`);
  return readFile(info.GoMod, 'utf8');
}

// ---- locking and atomic install ------------------------------------------------------------

const LOCK_POLL_MS = 500;

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Runs `fn` holding `<lockDir>`, taken with mkdir (atomic). The holder writes `host pid` into it; a lock whose
 * holder on this host is gone is stale and is moved aside (rename is atomic, so two waiters
 * cannot both break it).
 */
export async function withLock<T>(lockDir: string, onWait: () => void, fn: () => Promise<T>): Promise<T> {
  const me = `${hostname()} ${process.pid}`;
  let announced = false;
  for (;;) {
    try {
      await mkdir(lockDir);
      await writeFile(join(lockDir, 'owner'), me);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const owner = await readFile(join(lockDir, 'owner'), 'utf8').catch(() => '');
    const [host, pidText] = owner.split(' ');
    const pid = Number(pidText);
    if (owner !== '' && host === hostname() && Number.isInteger(pid) && !pidAlive(pid)) {
      const aside = `${lockDir}.stale-${process.pid}-${Date.now()}`;
      try {
        await rename(lockDir, aside);
        const movedOwner = await readFile(join(aside, 'owner'), 'utf8').catch(() => '');
        if (movedOwner !== owner) {
          // Someone else broke it and re-took it in between; put theirs back.
          await rename(aside, lockDir).catch(() => undefined);
        } else {
          await rm(aside, { recursive: true, force: true });
        }
      } catch {
        // another waiter moved it first
      }
      continue;
    }
    if (owner === '') {
      // Holder between mkdir and writing owner, or died right there: give it a moment, then break.
      const st = await stat(lockDir).catch(() => undefined);
      if (st && Date.now() - st.mtimeMs > 30_000) await rm(lockDir, { recursive: true, force: true });
    }
    if (!announced) {
      onWait();
      announced = true;
    }
    await new Promise((r) => setTimeout(r, LOCK_POLL_MS));
  }
  try {
    return await fn();
  } finally {
    await rm(lockDir, { recursive: true, force: true });
  }
}

interface BuildRecord {
  tool: string;
  version: string;
  seconds: number;
  builtAt: string;
  go: string;
}

function readRecord(name: ToolName): BuildRecord | undefined {
  try {
    return JSON.parse(readFileSync(join(toolDir(name), 'build.json'), 'utf8')) as BuildRecord;
  } catch {
    return undefined;
  }
}

export interface EnsureOptions {
  /** Progress lines (build steps, waiting for another process). Default: stderr when building. */
  readonly log?: (line: string) => void;
}

const inProcess = new Map<ToolName, Promise<EnsureResult>>();

/** Returns the cached binary, building it first if needed. Safe to call from many processes at once. */
export function ensureTool(name: ToolName, opts: EnsureOptions = {}): Promise<EnsureResult> {
  let p = inProcess.get(name);
  if (!p) {
    p = ensureToolOnce(name, opts);
    inProcess.set(name, p);
    p.catch(() => inProcess.delete(name));
  }
  return p;
}

async function ensureToolOnce(name: ToolName, opts: EnsureOptions): Promise<EnsureResult> {
  const spec = TOOLS[name];
  const started = performance.now();
  const finalDir = toolDir(name);
  const bin = toolPath(name);
  const log = opts.log ?? ((line: string) => process.stderr.write(`[test-env ${name}] ${line}\n`));
  const result = (status: 'built' | 'cached'): EnsureResult => ({
    name,
    version: spec.version,
    path: bin,
    status,
    seconds: (performance.now() - started) / 1000,
    coldBuildSeconds: readRecord(name)?.seconds,
  });
  if (existsSync(bin)) return result('cached');

  await mkdir(CACHE_DIR, { recursive: true });
  return withLock(
    `${finalDir}.lock`,
    () => log(`another process is building ${name} ${spec.version}; waiting for it`),
    async () => {
      if (existsSync(bin)) return result('cached');
      const go = findGo();
      const logPath = join(CACHE_DIR, `${name}-${spec.version}.build.log`);
      const logStream = createWriteStream(logPath);
      const tmpOut = await mkdtemp(`${finalDir}.tmp-`);
      const work = await mkdtemp(join(CACHE_DIR, `.work-${name}-`));
      const env: NodeJS.ProcessEnv = {
        ...process.env,
        PATH: `${dirname(go)}${delimiter}${process.env['PATH'] ?? ''}`,
        GOFLAGS: withGoFlag(process.env['GOFLAGS'], '-buildvcs=false'),
        CGO_ENABLED: process.env['CGO_ENABLED'] ?? '0',
      };
      const ctx: BuildContext = {
        outDir: tmpOut,
        work,
        go,
        env,
        log: (line) => {
          logStream.write(`# ${line}\n`);
          log(line);
        },
        run: (cmd, args, o = {}) => runLogged(cmd, args, { ...o, env: { ...env, ...o.env }, cwd: o.cwd ?? work }, logStream),
      };
      ctx.log(`building ${name} ${spec.version} with ${go} (log: ${logPath})`);
      try {
        await mkdir(join(tmpOut, 'bin'), { recursive: true });
        await spec.build(ctx);
        if (!existsSync(join(tmpOut, 'bin', spec.binary))) throw new Error(`build finished but ${spec.binary} is missing`);
        const seconds = (performance.now() - started) / 1000;
        const record: BuildRecord = { tool: name, version: spec.version, seconds: Math.round(seconds * 10) / 10, builtAt: new Date().toISOString(), go };
        await writeFile(join(tmpOut, 'build.json'), JSON.stringify(record, null, 2) + '\n');
        // Atomic install: the final directory appears complete or not at all.
        await rm(finalDir, { recursive: true, force: true });
        await rename(tmpOut, finalDir);
      } catch (err) {
        await rm(tmpOut, { recursive: true, force: true });
        const tail = await readTail(logPath);
        throw new Error(`test-env: building ${name} ${spec.version} failed: ${(err as Error).message}\n--- last lines of ${logPath} ---\n${tail}`, {
          cause: err,
        });
      } finally {
        await new Promise<void>((r) => logStream.end(r));
        // Go's module cache is read-only; make the scratch dir removable.
        await rm(work, { recursive: true, force: true }).catch(() => undefined);
      }
      return result('built');
    },
  );
}

async function readTail(path: string, lines = 30): Promise<string> {
  const text = await readFile(path, 'utf8').catch(() => '');
  return text.split('\n').slice(-lines).join('\n');
}

function runLogged(
  cmd: string,
  args: readonly string[],
  opts: { cwd: string; env: NodeJS.ProcessEnv; allowFail?: boolean; onStdout?: (s: string) => void },
  logStream: NodeJS.WritableStream,
): Promise<number> {
  return new Promise((resolvePromise, reject) => {
    logStream.write(`$ (cd ${opts.cwd} && ${cmd} ${args.join(' ')})\n`);
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.on('data', (d: Buffer) => {
      if (opts.onStdout) opts.onStdout(d.toString());
      else logStream.write(d);
    });
    child.stderr.on('data', (d: Buffer) => logStream.write(d));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      const c = code ?? 128;
      logStream.write(`# exit ${c}${signal ? ` (${signal})` : ''}\n`);
      if (c !== 0 && !opts.allowFail) reject(new Error(`${cmd} ${args.join(' ')} exited ${c}${signal ? ` (${signal})` : ''}`));
      else resolvePromise(c);
    });
  });
}
