// Runs the cached helm binary with its cache/config/data homes in a temp dir, so a test
// never reads or writes the user's ~/.config/helm (repositories, plugins, registry logins).
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { constants, tmpdir } from 'node:os';
import { join } from 'node:path';
import { onProcessExit } from './proc.ts';
import { ensureTool } from './tools.ts';

export interface HelmOptions {
  /** Kubeconfig file for commands that reach the API server (passed as KUBECONFIG). */
  readonly kubeconfig?: string;
  readonly cwd?: string;
  /** Extra environment variables. */
  readonly env?: Readonly<Record<string, string>>;
  /** Kill helm after this long. Default 120 000 ms. */
  readonly timeoutMs?: number;
}

export interface HelmResult {
  /** Exit code (128 + n when killed by signal n). */
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

let helmHome: string | undefined;

function home(): string {
  if (helmHome === undefined) {
    const dir = mkdtempSync(join(tmpdir(), 'sextant-helm-home-'));
    helmHome = dir;
    onProcessExit(() => rmSync(dir, { recursive: true, force: true }));
  }
  return helmHome;
}

/** Path of the cached helm binary (built on first use). */
export async function helmBin(): Promise<string> {
  return (await ensureTool('helm')).path;
}

/** Runs `helm <args>` and collects its output. Never throws on a non-zero exit; check `code`. */
export async function helm(args: readonly string[], opts: HelmOptions = {}): Promise<HelmResult> {
  const bin = await helmBin();
  const h = home();
  const env: NodeJS.ProcessEnv = {
    PATH: process.env['PATH'] ?? '/usr/bin:/bin',
    HOME: h,
    HELM_CACHE_HOME: join(h, 'cache'),
    HELM_CONFIG_HOME: join(h, 'config'),
    HELM_DATA_HOME: join(h, 'data'),
    ...(opts.kubeconfig === undefined ? { KUBECONFIG: join(h, 'no-kubeconfig') } : { KUBECONFIG: opts.kubeconfig }),
    ...opts.env,
  };
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { cwd: opts.cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 120_000);
    const removeCleanup = onProcessExit(() => child.kill('SIGKILL'));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      removeCleanup();
      const sigNum = signal === null ? 1 : 128 + constants.signals[signal];
      resolve({ code: code ?? sigNum, stdout, stderr });
    });
  });
}
