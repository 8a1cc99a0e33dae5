// Helpers of the security-source acceptance tests (issue 10): the enrichment service as a child
// process (packages/enrichment/src/main.ts, like `sextant enrichment`), and flat views of the log
// records the backend (the real OTel Collector) wrote.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { open, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { stringify as toYaml } from 'yaml';
import { REPO_ROOT, onProcessExit, waitForPort as waitPort } from '@sextant/test-env';
import type { OtlpJsonLine } from '@sextant/test-env';

async function until<T>(what: string, fn: () => Promise<T | undefined> | T | undefined, timeoutMs: number, everyMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** One enrichment process; start() again after kill() restarts it with the same config and queue. */
interface ServiceProcess {
  readonly port: number;
  start(): Promise<void>;
  kill(signal?: NodeJS.Signals): Promise<void>;
  metrics(): Promise<string>;
  readonly running: boolean;
}

async function serviceProcess(dir: string, name: string, port: number, config: Record<string, unknown>, waitForPort = port): Promise<ServiceProcess> {
  const configPath = join(dir, `${name}.yaml`);
  await writeFile(configPath, toYaml({ listen: { host: '127.0.0.1', port }, log: { level: 'warn' }, ...config }));
  const mainTs = resolve(REPO_ROOT, 'packages/enrichment/src/main.ts');
  const logFile = await open(join(dir, `${name}.log`), 'a');
  let child: ChildProcess | undefined;
  let removeCleanup: (() => void) | undefined;
  const p: ServiceProcess = {
    port,
    get running() {
      return child !== undefined;
    },
    async start() {
      const c = spawn(process.execPath, [mainTs, '--config', configPath], { stdio: ['ignore', logFile.fd, logFile.fd] });
      child = c;
      removeCleanup = onProcessExit(() => c.kill('SIGKILL'));
      c.once('exit', () => {
        if (child === c) child = undefined;
      });
      await waitPort(waitForPort, 60_000);
    },
    async kill(signal: NodeJS.Signals = 'SIGKILL') {
      const c = child;
      if (c === undefined) return;
      const exited = new Promise((r) => c.once('exit', r));
      c.kill(signal);
      await exited;
      removeCleanup?.();
      child = undefined;
    },
    async metrics() {
      const res = await fetch(`http://127.0.0.1:${port}/metrics`);
      return res.text();
    },
  };
  return p;
}

/** A log record as the backend stored it, attributes flattened to strings (arrays joined by ","). */
interface FlatRecord {
  resource: Record<string, string>;
  attributes: Record<string, string>;
  body: string;
  severityNumber: number;
  severityText: string;
  timeUnixNano: string;
  scope: string;
}

interface JsonAnyValue {
  stringValue?: string;
  intValue?: string | number;
  boolValue?: boolean;
  doubleValue?: number;
  arrayValue?: { values?: JsonAnyValue[] };
  kvlistValue?: { values?: Array<{ key: string; value?: JsonAnyValue }> };
}

function str(v: JsonAnyValue | undefined): string {
  if (v === undefined) return '';
  if (v.stringValue !== undefined) return v.stringValue;
  if (v.intValue !== undefined) return String(v.intValue);
  if (v.boolValue !== undefined) return String(v.boolValue);
  if (v.doubleValue !== undefined) return String(v.doubleValue);
  if (v.arrayValue !== undefined) return (v.arrayValue.values ?? []).map(str).join(',');
  if (v.kvlistValue !== undefined) return JSON.stringify(Object.fromEntries((v.kvlistValue.values ?? []).map((kv) => [kv.key, str(kv.value)])));
  return '';
}

function flat(list: ReadonlyArray<{ key: string; value?: JsonAnyValue }> | undefined): Record<string, string> {
  return Object.fromEntries((list ?? []).map((kv) => [kv.key, str(kv.value)]));
}

function flatRecords(lines: readonly OtlpJsonLine[]): FlatRecord[] {
  const out: FlatRecord[] = [];
  for (const line of lines) {
    for (const rl of (line.resourceLogs ?? []) as Array<{ resource?: { attributes?: Array<{ key: string; value?: JsonAnyValue }> }; scopeLogs?: unknown[] }>) {
      const resource = flat(rl.resource?.attributes);
      for (const sl of (rl.scopeLogs ?? []) as Array<{ scope?: { name?: string }; logRecords?: unknown[] }>) {
        for (const r of (sl.logRecords ?? []) as Array<{ attributes?: Array<{ key: string; value?: JsonAnyValue }>; body?: JsonAnyValue; severityNumber?: number; severityText?: string; timeUnixNano?: string }>) {
          out.push({
            resource,
            attributes: flat(r.attributes),
            body: str(r.body),
            severityNumber: r.severityNumber ?? 0,
            severityText: r.severityText ?? '',
            timeUnixNano: r.timeUnixNano ?? '0',
            scope: sl.scope?.name ?? '',
          });
        }
      }
    }
  }
  return out;
}

/** The value of `name{labels}` in a Prometheus text exposition (0 when absent). */
function metricValue(text: string, name: string, labels: string): number {
  for (const line of text.split('\n')) {
    if (line.startsWith(`${name}{`) && line.includes(labels)) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return 0;
}

export { flatRecords, metricValue, serviceProcess, until, waitPort };
export type { FlatRecord, ServiceProcess };
