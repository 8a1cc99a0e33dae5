// Acceptance test of `sextant demo` (issue 9): runs the real command as a child process for a few
// seconds and checks what a newcomer would look at: enriched logs with workload names and labels,
// host metrics, spans with k8s attributes, every generated line delivered, exit 0, no process left.
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { TestContext } from 'node:test';

const repo = new URL('../../', import.meta.url).pathname;

interface Attr { key: string; value?: { stringValue?: string; intValue?: string } }

function attrs(list: Attr[] | undefined): Map<string, string> {
  return new Map((list ?? []).map((a) => [a.key, a.value?.stringValue ?? a.value?.intValue ?? JSON.stringify(a.value)]));
}

async function jsonLines(path: string): Promise<Array<Record<string, unknown>>> {
  const text = await readFile(path, 'utf8').catch(() => '');
  return text.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** Whether any process of the group led by `pid` is alive (the demo starts each child in its own group). */
function alive(pid: number): boolean {
  try {
    process.kill(-pid, 0);
    return true;
  } catch {
    return false;
  }
}

interface Run { code: number | null; stdout: string; stderr: string }

/** Runs `sextant demo <args>` as a child; with `interruptAfter`, sends SIGINT once that many summary lines were printed. */
async function runDemo(args: readonly string[], interruptAfter?: number): Promise<Run> {
  const child = spawn(process.execPath, ['packages/cli/src/main.ts', 'demo', ...args], { cwd: repo, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  let interrupted = false;
  child.stdout.on('data', (b: Buffer) => {
    stdout += b.toString();
    if (interruptAfter !== undefined && !interrupted && (stdout.match(/^\[\d+s\] /gm) ?? []).length >= interruptAfter) {
      interrupted = true;
      child.kill('SIGINT');
    }
  });
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
  return { code, stdout, stderr };
}

/** What a user checks in the output directory after a run. */
async function checkOutput(t: TestContext, out: string, run: Run): Promise<void> {
  const { stdout, stderr } = run;
  t.assert.equal(run.code, 0, `demo exit code; stderr:\n${stderr}\nstdout:\n${stdout}`);
  // the live summary printed plain lines (stdout is not a TTY here), then one enriched record of each
  t.assert.match(stdout, /\[\d+s\] records written \d+, read \d+, batches acked \d+, enriched \d+, queue depth \d+/);
  t.assert.match(stdout, /One enriched log record:\n\{/);
  t.assert.match(stdout, /One enriched span:\n\{/);
  t.assert.ok(stdout.includes(`Output is in ${out}`), stdout);
  t.assert.equal(stderr, '', 'nothing went wrong on the way');

  const report = JSON.parse(await readFile(join(out, 'demo-report.json'), 'utf8')) as {
    generated: { records: number; rotations: number; containers: Array<{ namespace: string; pod: string; uid: string; container: string; records: number }> };
    processes: Array<{ name: string; pid: number }>;
  };

  // nothing the demo started is still running
  t.assert.deepEqual(report.processes.map((p) => p.name).sort(), ['demo-app', 'enrichment', 'node-collector', 'trace-receiver']);
  for (const p of report.processes) t.assert.equal(alive(p.pid), false, `${p.name} (pid ${p.pid}) or a process it started is still running`);

  // logs: every generated record arrived, with workload names and labels
  t.assert.ok(report.generated.records >= 500, `only ${report.generated.records} records generated`);
  t.assert.ok(report.generated.rotations >= 1, 'the generator never rotated a file');
  const seen = new Set<string>();
  const workloads = new Map<string, Map<string, string>>();
  for (const req of await jsonLines(join(out, 'logs.jsonl'))) {
    for (const rl of req['resourceLogs'] as Array<{ resource?: { attributes?: Attr[] }; scopeLogs?: Array<{ logRecords?: Array<{ body?: { stringValue?: string } }> }> }>) {
      const a = attrs(rl.resource?.attributes);
      const key = `${a.get('k8s.pod.uid')}/${a.get('k8s.container.name')}`;
      workloads.set(`${a.get('k8s.pod.name')}/${a.get('k8s.container.name')}`, a);
      for (const sl of rl.scopeLogs ?? []) {
        for (const r of sl.logRecords ?? []) {
          const m = /^seq=(\d+) /.exec(r.body?.stringValue ?? '');
          if (m !== null) seen.add(`${key}/${m[1]}`);
        }
      }
    }
  }
  const missing: string[] = [];
  for (const c of report.generated.containers) {
    for (let s = 1; s <= c.records; s++) if (!seen.has(`${c.uid}/${c.container}/${s}`)) missing.push(`${c.pod}/${c.container} seq=${s}`);
  }
  t.assert.deepEqual(missing.slice(0, 20), [], `${missing.length} of ${report.generated.records} generated records did not arrive`);

  const checkout = workloads.get('checkout-6c9f7d8b5c-7xk2p/checkout');
  t.assert.ok(checkout !== undefined, `no logs of the checkout pod; resources seen: ${[...workloads.keys()].join(', ')}`);
  t.assert.equal(checkout?.get('k8s.deployment.name'), 'checkout');
  t.assert.equal(checkout?.get('k8s.replicaset.name'), 'checkout-6c9f7d8b5c');
  t.assert.equal(checkout?.get('k8s.namespace.name'), 'shop');
  t.assert.equal(checkout?.get('k8s.node.name'), 'demo-node');
  t.assert.equal(checkout?.get('container.image.name'), 'registry.example.com/shop/checkout');
  t.assert.equal(checkout?.get('container.image.tag'), '2.4.1');
  t.assert.equal(checkout?.get('k8s.pod.label.app.kubernetes.io/name'), 'checkout');
  t.assert.equal(checkout?.get('k8s.namespace.label.team'), 'payments');
  const report_ = workloads.get('nightly-report-29412000-tz6vb/report');
  t.assert.equal(report_?.get('k8s.job.name'), 'nightly-report-29412000');
  t.assert.equal(report_?.get('k8s.cronjob.name'), 'nightly-report');
  t.assert.equal(report_?.get('k8s.namespace.label.team'), 'data');

  // host metrics of the demo node
  const metricNames = new Set<string>();
  let node: string | undefined;
  for (const req of await jsonLines(join(out, 'metrics.jsonl'))) {
    for (const rm_ of req['resourceMetrics'] as Array<{ resource?: { attributes?: Attr[] }; scopeMetrics?: Array<{ metrics?: Array<{ name: string }> }> }>) {
      const a = attrs(rm_.resource?.attributes);
      node ??= a.get('k8s.node.name');
      for (const sm of rm_.scopeMetrics ?? []) for (const m of sm.metrics ?? []) metricNames.add(m.name);
    }
  }
  t.assert.ok(metricNames.has('system.memory.usage') && metricNames.has('system.cpu.time'), `host metrics: ${[...metricNames].join(', ')}`);
  t.assert.equal(node, 'demo-node');

  // spans of the demo app, associated with its pod by the trace receiver
  let spans = 0;
  let spanResource: Map<string, string> | undefined;
  for (const req of await jsonLines(join(out, 'traces.jsonl'))) {
    for (const rs of req['resourceSpans'] as Array<{ resource?: { attributes?: Attr[] }; scopeSpans?: Array<{ spans?: unknown[] }> }>) {
      spanResource = attrs(rs.resource?.attributes);
      for (const ss of rs.scopeSpans ?? []) spans += ss.spans?.length ?? 0;
    }
  }
  t.assert.ok(spans > 0, 'no spans arrived');
  t.assert.equal(spanResource?.get('k8s.pod.name'), 'checkout-6c9f7d8b5c-7xk2p');
  t.assert.equal(spanResource?.get('k8s.deployment.name'), 'checkout');
  t.assert.equal(spanResource?.get('k8s.namespace.name'), 'shop');
  t.assert.equal(spanResource?.get('service.name'), 'checkout');
}

void test('sextant demo --duration: enriched logs, host metrics and spans, every line, nothing left running', { timeout: 180_000 }, async (t: TestContext) => {
  const out = await mkdtemp(join(tmpdir(), 'sextant-demo-test-'));
  t.after(() => rm(out, { recursive: true, force: true }));
  const run = await runDemo(['--duration', '6', '--rate', '300', '--out', out]);
  await checkOutput(t, out, run);
});

void test('sextant demo with its defaults stops cleanly on Ctrl-C (SIGINT), upstream first, and says where the output is', { timeout: 180_000 }, async (t: TestContext) => {
  const run = await runDemo([], 6);
  const out = /Output is in (\S+):/.exec(run.stdout)?.[1];
  t.assert.ok(out !== undefined && out.startsWith(tmpdir()), `no output directory under ${tmpdir()} in:\n${run.stdout}\n${run.stderr}`);
  t.after(() => rm(out, { recursive: true, force: true }));
  t.assert.match(run.stdout, /stopping \(SIGINT\)/);
  await checkOutput(t, out, run);
  // the components were stopped in pipeline order: collector, then enrichment, then trace-receiver
  const stoppedAt = async (name: string): Promise<number> => {
    for (const line of (await readFile(join(out, 'state', 'logs', `${name}.log`), 'utf8')).split('\n')) {
      if (!line.includes('"shutting down"') && !line.includes('"trace receiver stopped"')) continue;
      const time = (JSON.parse(line) as { time: number | string }).time;
      return typeof time === 'number' ? time : Date.parse(time);
    }
    return Number.NaN;
  };
  const [collector = Number.NaN, enrichment = Number.NaN, traces = Number.NaN] = await Promise.all(['node-collector', 'enrichment', 'trace-receiver'].map(stoppedAt));
  t.assert.ok(collector <= enrichment && enrichment <= traces, `stop times: collector ${collector}, enrichment ${enrichment}, trace-receiver ${traces}`);
});
