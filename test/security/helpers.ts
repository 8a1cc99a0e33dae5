// Helpers of the security-source acceptance tests (issue 10): the enrichment service and the node
// collector as child processes (their src/main.ts, as the images run them), the audit-webhook setup, and flat views of the log
// records the backend (the real OTel Collector) wrote.
import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { stringify as toYaml } from 'yaml';
import { REPO_ROOT, freePort, onProcessExit, waitForPort as waitPort } from '@sextant/test-env';
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

/**
 * A temp dir for one test, and the cleanups to run when it ends: last pushed first, errors ignored, the dir
 * itself last.
 */
async function testDir(t: { after(fn: () => Promise<void>): void }, prefix: string): Promise<{ dir: string; cleanups: Array<() => Promise<unknown>> }> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  const cleanups: Array<() => Promise<unknown>> = [() => rm(dir, { recursive: true, force: true })];
  t.after(async () => {
    for (const fn of cleanups.reverse()) await fn().catch(() => undefined);
  });
  return { dir, cleanups };
}

/** The fields of an audit.k8s.io/v1 Event the tests compare (a line of --audit-log-path). */
interface AuditLine {
  auditID: string;
  stage: string;
  verb: string;
  user: { username: string; groups?: string[] };
  objectRef?: { resource?: string; namespace?: string; name?: string; apiGroup?: string; subresource?: string };
  responseStatus?: { code?: number };
}

/** A node child process; start() again after kill() restarts it with the same arguments. */
interface NodeProcess {
  start(): Promise<void>;
  kill(signal?: NodeJS.Signals): Promise<void>;
  readonly running: boolean;
}

interface NodeProcessOptions {
  /** The script and its arguments, run by this node. */
  argv: readonly string[];
  /** stderr (and stdout unless `readsStdout`) are appended here. */
  logPath: string;
  env?: NodeJS.ProcessEnv;
  /** Resolves once the child is ready. */
  ready: (child: ChildProcess) => Promise<void>;
  /** The child's stdout is a pipe for `ready` to read. */
  readsStdout?: boolean;
}

async function nodeProcess(opts: NodeProcessOptions): Promise<NodeProcess> {
  const logFile = await open(opts.logPath, 'a');
  let child: ChildProcess | undefined;
  let removeCleanup: (() => void) | undefined;
  return {
    get running() {
      return child !== undefined;
    },
    async start() {
      const stdout = opts.readsStdout === true ? 'pipe' : logFile.fd;
      const c = spawn(process.execPath, [...opts.argv], { stdio: ['ignore', stdout, logFile.fd], ...(opts.env === undefined ? {} : { env: opts.env }) });
      child = c;
      removeCleanup = onProcessExit(() => c.kill('SIGKILL'));
      c.once('exit', () => {
        if (child === c) child = undefined;
      });
      await opts.ready(c);
    },
    async kill(signal: NodeJS.Signals = 'SIGKILL') {
      const c = child;
      if (c === undefined || c.exitCode !== null) return;
      const exited = new Promise((r) => c.once('exit', r));
      c.kill(signal);
      await exited;
      removeCleanup?.();
      child = undefined;
    },
  };
}

/** One enrichment process; start() again after kill() restarts it with the same config and queue. */
interface ServiceProcess extends NodeProcess {
  readonly port: number;
  metrics(): Promise<string>;
}

async function serviceProcess(dir: string, name: string, port: number, config: Record<string, unknown>, waitForPort = port): Promise<ServiceProcess> {
  const configPath = join(dir, `${name}.yaml`);
  await writeFile(configPath, toYaml({ listen: { host: '127.0.0.1', port }, log: { level: 'warn' }, ...config }));
  const proc = await nodeProcess({
    argv: [resolve(REPO_ROOT, 'packages/enrichment/src/main.ts'), '--config', configPath],
    logPath: join(dir, `${name}.log`),
    ready: () => waitPort(waitForPort, 60_000),
  });
  return {
    port,
    get running() {
      return proc.running;
    },
    start: () => proc.start(),
    kill: (signal) => proc.kill(signal),
    async metrics() {
      const res = await fetch(`http://127.0.0.1:${port}/metrics`);
      return res.text();
    },
  };
}

/** The node collector (packages/node-collector/src/main.ts, as the DaemonSet runs it); restarts keep its checkpoints. */
async function collectorProcess(configPath: string, logPath: string): Promise<NodeProcess> {
  return nodeProcess({
    argv: [resolve(REPO_ROOT, 'packages/node-collector/src/main.ts'), configPath],
    logPath,
    env: { ...process.env, SEXTANT_LOG_LEVEL: 'warn' },
    readsStdout: true,
    // main.ts prints one line {"msg":"sextant-node-collector-ready"} once start() returned
    ready: (c) =>
      new Promise<void>((res, rej) => {
        const lines = createInterface({ input: c.stdout as NodeJS.ReadableStream });
        const t = setTimeout(() => rej(new Error('the node collector did not get ready in 60 s')), 60_000);
        lines.on('line', (l) => {
          if (l.includes('sextant-node-collector-ready')) {
            clearTimeout(t);
            res();
          }
        });
        c.once('exit', (code) => {
          clearTimeout(t);
          rej(new Error(`the node collector exited with ${code}`));
        });
      }),
  });
}

/** The enrichment service with its audit webhook on, and the API-server files that send audit events to it. */
interface AuditWebhookSetup {
  service: ServiceProcess;
  /** The OTLP port (for a node collector) and the audit webhook's port. */
  port: number;
  auditPort: number;
  /** kube-apiserver flags: the policy and the webhook backend in batch mode (audit.k8s.io/v1, 1 s max wait). */
  apiServerArgs: string[];
}

/**
 * Writes a bearer token, an empty metadata file and a self-signed cert for 127.0.0.1 into `dir`, makes the
 * enrichment service (not yet started) exporting to `backendHttpEndpoint`, and writes the audit policy
 * (`policyRules`, RequestReceived omitted) and the webhook kubeconfig for the API server.
 * `waitFor` names the port start() waits for.
 */
async function auditWebhookService(dir: string, backendHttpEndpoint: string, policyRules: readonly unknown[], waitFor: 'otlp' | 'audit'): Promise<AuditWebhookSetup> {
  const token = randomBytes(24).toString('hex');
  await writeFile(join(dir, 'token'), `${token}\n`);
  await writeFile(join(dir, 'objects.yaml'), 'apiVersion: v1\nkind: List\nitems: []\n');
  // client-go sends a kubeconfig's token only over TLS (tools/clientcmd "only try to read the auth
  // information if we are secure"), so the webhook serves HTTPS with a cert for 127.0.0.1.
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', join(dir, 'tls.key'), '-out', join(dir, 'tls.crt'), '-days', '1', '-subj', '/CN=sextant-audit', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
  const port = await freePort();
  const auditPort = await freePort();
  const service = await serviceProcess(
    dir,
    'enrichment',
    port,
    {
      metadata: { source: 'file', path: join(dir, 'objects.yaml') },
      queue: { dir: join(dir, 'queue') },
      exporter: { protocol: 'otlp_http', endpoint: backendHttpEndpoint, compression: 'gzip' },
      export: { initialBackoff: '100ms', maxBackoff: '1s' },
      audit: { enabled: true, listen: { host: '127.0.0.1', port: auditPort }, token: `file:${join(dir, 'token')}`, tls: { certFile: join(dir, 'tls.crt'), keyFile: join(dir, 'tls.key') } },
    },
    waitFor === 'audit' ? auditPort : port,
  );
  await writeFile(join(dir, 'policy.yaml'), toYaml({ apiVersion: 'audit.k8s.io/v1', kind: 'Policy', omitStages: ['RequestReceived'], rules: policyRules }));
  await writeFile(
    join(dir, 'webhook.kubeconfig'),
    toYaml({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'sextant', cluster: { server: `https://127.0.0.1:${auditPort}/v1/audit`, 'certificate-authority': join(dir, 'tls.crt') } }],
      users: [{ name: 'kube-apiserver', user: { token } }],
      contexts: [{ name: 'audit', context: { cluster: 'sextant', user: 'kube-apiserver' } }],
      'current-context': 'audit',
    }),
  );
  const apiServerArgs = [
    `--audit-policy-file=${join(dir, 'policy.yaml')}`,
    `--audit-webhook-config-file=${join(dir, 'webhook.kubeconfig')}`,
    '--audit-webhook-mode=batch',
    '--audit-webhook-batch-max-wait=1s',
    '--audit-webhook-version=audit.k8s.io/v1',
  ];
  return { service, port, auditPort, apiServerArgs };
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

export { auditWebhookService, collectorProcess, flatRecords, metricValue, serviceProcess, testDir, until, waitPort };
export type { AuditLine, AuditWebhookSetup, FlatRecord, NodeProcess, ServiceProcess };
