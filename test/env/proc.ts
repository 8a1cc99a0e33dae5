// Child processes of the test environment: each runs in its own process group, logs to a
// file, and dies with the test process (exit handlers for the normal paths, a small
// watchdog shell for the abnormal ones such as SIGKILL of the test runner).
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { openSync, closeSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { connect } from 'node:net';

/** A free TCP port on 127.0.0.1 (asks the kernel for port 0, then releases it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      if (addr === null || typeof addr === 'string') {
        srv.close();
        reject(new Error('freePort: no port from the kernel'));
        return;
      }
      srv.close(() => resolve(addr.port));
    });
  });
}

export interface ManagedProcess {
  readonly name: string;
  readonly pid: number;
  readonly logPath: string;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  hasExited(): boolean;
  logTail(lines?: number): string;
  stop(graceMs?: number): Promise<void>;
}

interface CleanupEntry {
  /** Must be synchronous: it also runs from process 'exit'. */
  readonly sync: () => void;
}

const cleanups = new Set<CleanupEntry>();
let handlersInstalled = false;

function runAllCleanupsSync(): void {
  for (const c of [...cleanups]) {
    cleanups.delete(c);
    try {
      c.sync();
    } catch {
      // best effort on the way out
    }
  }
}

function installHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on('exit', runAllCleanupsSync);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const onSignal = (): void => {
      runAllCleanupsSync();
      process.removeListener(sig, onSignal);
      // Re-raise so the default action (and exit code) still applies.
      process.kill(process.pid, sig);
    };
    process.on(sig, onSignal);
  }
}

/** Registers a synchronous cleanup that runs on process exit or a fatal signal; returns its remover. */
export function onProcessExit(fn: () => void): () => void {
  installHandlers();
  const entry: CleanupEntry = { sync: fn };
  cleanups.add(entry);
  return () => cleanups.delete(entry);
}

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // group already gone
  }
}

/**
 * Kills `pgid`'s process group and removes `paths` once this Node process is gone, even if it
 * was SIGKILLed. Polls once a second; costs one `sh` + `sleep` per environment.
 */
function startWatchdog(pgids: readonly number[], paths: readonly string[]): ChildProcess {
  const quote = (s: string): string => `'${s.replaceAll("'", `'\\''`)}'`;
  const script = [
    `while kill -0 ${process.pid} 2>/dev/null; do sleep 1; done`,
    ...pgids.map((g) => `kill -KILL -${g} 2>/dev/null`),
    ...paths.map((p) => `rm -rf ${quote(p)}`),
    'exit 0',
  ].join('; ');
  const wd = spawn('sh', ['-c', script], { detached: true, stdio: 'ignore' });
  wd.unref();
  return wd;
}

export interface SpawnManagedOptions {
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
  /** Paths the watchdog removes if the test process dies without cleaning up. */
  readonly ownedPaths?: readonly string[];
}

export function spawnManaged(name: string, cmd: string, args: readonly string[], logPath: string, opts: SpawnManagedOptions = {}): ManagedProcess {
  const fd = openSync(logPath, 'a');
  let child: ChildProcess;
  try {
    child = spawn(cmd, args, {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      detached: true, // own process group, so stop() reaches grandchildren too
      stdio: ['ignore', fd, fd],
    });
  } finally {
    closeSync(fd);
  }
  const pid = child.pid;
  if (pid === undefined) throw new Error(`test-env: could not start ${name} (${cmd})`);
  child.unref();
  let done = false;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('exit', (code, signal) => {
      done = true;
      resolve({ code, signal });
    });
  });
  const watchdog = startWatchdog([pid], opts.ownedPaths ?? []);
  const removeCleanup = onProcessExit(() => {
    killGroup(pid, 'SIGKILL');
    if (watchdog.pid !== undefined) killGroup(watchdog.pid, 'SIGKILL');
    for (const p of opts.ownedPaths ?? []) rmSync(p, { recursive: true, force: true });
  });
  const logTail = (lines = 40): string => {
    try {
      return readFileSync(logPath, 'utf8').split('\n').slice(-lines).join('\n');
    } catch {
      return '';
    }
  };
  return {
    name,
    pid,
    logPath,
    exited,
    hasExited: () => done,
    logTail,
    async stop(graceMs = 5000) {
      removeCleanup();
      if (!done) {
        killGroup(pid, 'SIGTERM');
        const timer = setTimeout(() => killGroup(pid, 'SIGKILL'), graceMs);
        await exited;
        clearTimeout(timer);
      }
      // Grandchildren that outlived the leader.
      killGroup(pid, 'SIGKILL');
      if (watchdog.pid !== undefined) killGroup(watchdog.pid, 'SIGKILL');
    },
  };
}

/** Resolves once 127.0.0.1:port accepts a TCP connection. */
export async function waitForPort(port: number, timeoutMs: number, proc?: ManagedProcess): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect({ host: '127.0.0.1', port });
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (proc?.hasExited()) throw new Error(`${proc.name} exited before listening on 127.0.0.1:${port}\n--- ${proc.logPath} ---\n${proc.logTail()}`);
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for 127.0.0.1:${port}${proc ? `\n--- ${proc.logPath} ---\n${proc.logTail()}` : ''}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}
