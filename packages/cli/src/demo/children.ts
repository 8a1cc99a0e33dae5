// Starting and stopping the demo's child processes: each is `node --import lifeline.ts <entry>`,
// in its own process group (so a terminal's Ctrl-C reaches only the demo, which then stops the
// children in pipeline order), with stdout and stderr copied to <logDir>/<name>.log.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

const lifeline = new URL('./lifeline.ts', import.meta.url).href;

export interface ChildOptions<T> {
  name: string;
  /** The script (a component's main.ts) and its arguments. */
  args: readonly string[];
  env: NodeJS.ProcessEnv;
  logDir: string;
  /** Picks the readiness information out of a stdout line parsed as JSON; undefined = not this line. */
  ready: (line: Record<string, unknown>) => T | undefined;
  /** Called with every stdout line parsed as JSON (progress reports). */
  onLine?: (line: Record<string, unknown>) => void;
  timeoutMs?: number;
}

export interface Child {
  readonly name: string;
  readonly pid: number;
  readonly logFile: string;
  /** Resolves with the exit code (or the signal name) once the process has exited. */
  readonly exited: Promise<number | string>;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once it exited. */
  stop(graceMs: number): Promise<number | string>;
  /** Synchronous SIGKILL (for process 'exit' handlers). */
  kill(): void;
}

export async function startChild<T>(o: ChildOptions<T>): Promise<{ child: Child; info: T }> {
  const logFile = join(o.logDir, `${o.name}.log`);
  const log = createWriteStream(logFile, { flags: 'a' });
  const proc: ChildProcess = spawn(process.execPath, ['--import', lifeline, ...o.args], {
    env: o.env,
    stdio: ['pipe', 'pipe', 'pipe'],
    detached: true,
  });
  let exitedFlag = false;
  const exited = new Promise<number | string>((resolve) => {
    proc.once('exit', (code, signal) => {
      exitedFlag = true;
      resolve(code ?? signal ?? 'unknown');
    });
  });
  // The spawn itself failing (ENOENT) surfaces as 'error' before any 'exit'.
  const spawnError = new Promise<never>((_, reject) => proc.once('error', reject));
  spawnError.catch(() => undefined);
  proc.stderr?.pipe(log, { end: false });
  let resolveReady: (v: T) => void = () => undefined;
  const readyP = new Promise<T>((resolve) => (resolveReady = resolve));
  let isReady = false;
  if (proc.stdout !== null) {
    createInterface({ input: proc.stdout, crlfDelay: Infinity }).on('line', (line) => {
      log.write(`${line}\n`);
      if (!line.startsWith('{')) return;
      let parsed: Record<string, unknown>;
      try {
        parsed = JSON.parse(line) as Record<string, unknown>;
      } catch {
        return;
      }
      o.onLine?.(parsed);
      if (!isReady) {
        const info = o.ready(parsed);
        if (info !== undefined) {
          isReady = true;
          resolveReady(info);
        }
      }
    });
  }
  void exited.then(() => log.end());
  const child: Child = {
    name: o.name,
    pid: proc.pid ?? -1,
    logFile,
    exited,
    async stop(graceMs) {
      if (exitedFlag) return exited;
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), graceMs);
      const r = await exited;
      clearTimeout(timer);
      return r;
    },
    kill() {
      if (!exitedFlag) proc.kill('SIGKILL');
    },
  };
  const timeoutMs = o.timeoutMs ?? 30_000;
  let timer: NodeJS.Timeout | undefined;
  try {
    const info = await Promise.race([
      readyP,
      spawnError,
      exited.then((code) => {
        throw new Error(`${o.name} exited (${code}) before it was ready; see ${logFile}`);
      }),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${o.name} was not ready after ${timeoutMs} ms; see ${logFile}`)), timeoutMs);
      }),
    ]);
    return { child, info };
  } catch (err) {
    child.kill();
    await exited;
    throw err;
  } finally {
    clearTimeout(timer);
  }
}
