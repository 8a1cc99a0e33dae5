// Starting and stopping the demo's child processes: each is `node --import lifeline.ts <entry>`,
// in its own process group (so a terminal's Ctrl-C reaches only the demo, which then stops the
// children in pipeline order), with stdout and stderr written to <logDir>/<name>.log, which the
// demo follows for the child's readiness line.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';

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

/** Calls `onLine` with each complete line appended to `path`, polling every 50 ms until stopped. */
function followFile(path: string, onLine: (line: string) => void): { stop(): Promise<void> } {
  let offset = 0;
  let rest = '';
  let stopped = false;
  const buf = Buffer.allocUnsafe(64 * 1024);
  const poll = async (): Promise<void> => {
    const fh = await open(path, 'r');
    try {
      for (;;) {
        const { bytesRead } = await fh.read(buf, 0, buf.length, offset);
        if (bytesRead === 0) break;
        offset += bytesRead;
        const parts = (rest + buf.toString('utf8', 0, bytesRead)).split('\n');
        rest = parts.pop() ?? '';
        for (const line of parts) onLine(line);
      }
    } finally {
      await fh.close();
    }
  };
  const loop = (async () => {
    while (!stopped) {
      await poll().catch(() => undefined);
      await new Promise((r) => setTimeout(r, 50));
    }
    await poll().catch(() => undefined);
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
    },
  };
}

export async function startChild<T>(o: ChildOptions<T>): Promise<{ child: Child; info: T }> {
  const logFile = join(o.logDir, `${o.name}.log`);
  // The child writes to its log file directly, not through a pipe to the demo: if the demo dies,
  // a child's writes must not fail (EPIPE) while it shuts down.
  const logFd = openSync(logFile, 'a');
  let proc: ChildProcess;
  try {
    proc = spawn(process.execPath, ['--import', lifeline, ...o.args], {
      env: o.env,
      stdio: ['pipe', logFd, logFd],
      detached: true,
    });
  } finally {
    closeSync(logFd);
  }
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
  let resolveReady: (v: T) => void = () => undefined;
  const readyP = new Promise<T>((resolve) => (resolveReady = resolve));
  let isReady = false;
  const follower = followFile(logFile, (line) => {
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
  const done = exited.then(() => follower.stop());
  const child: Child = {
    name: o.name,
    pid: proc.pid ?? -1,
    logFile,
    exited: done.then(() => exited),
    async stop(graceMs) {
      if (!exitedFlag) {
        proc.kill('SIGTERM');
        const timer = setTimeout(() => proc.kill('SIGKILL'), graceMs);
        await exited;
        clearTimeout(timer);
      }
      await done;
      return exited;
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
    await done;
    throw err;
  } finally {
    clearTimeout(timer);
  }
}
