// `sextant privileges` as a user runs it: a real CLI process that renders the chart with the real helm.
// The expected tables are exact: a new privilege, a dropped one or a changed reason fails the test.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { suite, test } from 'node:test';
import type { TestContext } from 'node:test';
import { promisify } from 'node:util';
import { REPO_ROOT, helmBin } from '@sextant/test-env';
import { scenarioFile } from './chart.ts';

const execFileP = promisify(execFile);

async function privileges(args: string[]): Promise<string> {
  const { stdout } = await execFileP(process.execPath, [join(REPO_ROOT, 'packages', 'cli', 'src', 'main.ts'), 'privileges', ...args], {
    env: { ...process.env, SEXTANT_HELM: await helmBin() },
  });
  return stdout;
}

interface Row {
  component: string;
  kind: string;
  privilege: string;
  neededBy: string;
}

/** `sextant privileges -o json` with the scenarios' values files in order. */
async function rows(...scenarios: string[]): Promise<Row[]> {
  return JSON.parse(await privileges(['-o', 'json', ...scenarios.flatMap((f) => ['-f', scenarioFile(f)])])) as Row[];
}

const LOGS_ONLY = `COMPONENT       KIND       PRIVILEGE                                                                                                                               NEEDED BY
node-collector  user       uid 0, gid 0, runAsNonRoot false                                                                                                        collector.securityPreset=root
node-collector  container  capabilities add none drop ALL; not privileged; no privilege escalation; read-only root fs; no host namespaces; seccomp RuntimeDefault  collector.securityPreset=root
node-collector  hostPath   /var/log/pods read-only                                                                                                                 logs
node-collector  hostPath   /var/lib/sextant/checkpoints read-write                                                                                                 logs (read offsets)
node-collector  port       listens on 2020/TCP (metrics)                                                                                                           self-metrics scrape, health probes
node-collector  token      no ServiceAccount token                                                                                                                 the collector never calls the API server
node-collector  network    in: pods{app.kubernetes.io/name=prometheus} (ns monitoring) -> node-collector :2020/TCP                                                 self-metrics scrape
node-collector  network    out: node-collector -> enrichment (ns sextant) :24321/TCP                                                                               delivery to enrichment
node-collector  network    out: node-collector -> pods{k8s-app=kube-dns} (ns kube-system) :53/UDP,53/TCP                                                           DNS
enrichment      user       uid 65532, gid 65532, runAsNonRoot true                                                                                                 enrichment.securityPreset=restricted
enrichment      container  capabilities add none drop ALL; not privileged; no privilege escalation; read-only root fs; no host namespaces; seccomp RuntimeDefault  enrichment.securityPreset=restricted
enrichment      port       listens on 24321/TCP (otlp-http)                                                                                                        delivery from the collectors, self-metrics scrape, health probes
enrichment      token      ServiceAccount token mounted                                                                                                            pod metadata (API watch)
enrichment      secret     Secret sextant-backend key token as env SEXTANT_BACKEND_TOKEN                                                                           backend.credentials
enrichment      rbac       get,list,watch pods cluster-wide                                                                                                        pod metadata (API watch)
enrichment      rbac       get,list,watch namespaces cluster-wide                                                                                                  pod metadata (API watch)
enrichment      rbac       get,list,watch replicasets.apps cluster-wide                                                                                            pod metadata (API watch)
enrichment      rbac       get,list,watch jobs.batch cluster-wide                                                                                                  pod metadata (API watch)
enrichment      network    in: node-collector (ns sextant-node) -> enrichment :24321/TCP                                                                           delivery from the collectors
enrichment      network    in: pods{app.kubernetes.io/name=prometheus} (ns monitoring) -> enrichment :24321/TCP                                                    self-metrics scrape
enrichment      network    out: enrichment -> 192.0.2.10/32 :6443/TCP                                                                                              pod metadata (API watch)
enrichment      network    out: enrichment -> 198.51.100.0/24 :443/TCP                                                                                             export to backend
enrichment      network    out: enrichment -> pods{k8s-app=kube-dns} (ns kube-system) :53/UDP,53/TCP                                                               DNS
`;

const METRICS_ONLY = `COMPONENT       KIND       PRIVILEGE                                                                                                                               NEEDED BY
node-collector  user       uid 0, gid 0, runAsNonRoot false                                                                                                        collector.securityPreset=root
node-collector  container  capabilities add none drop ALL; not privileged; no privilege escalation; read-only root fs; no host namespaces; seccomp RuntimeDefault  collector.securityPreset=root
node-collector  hostPath   /proc read-only                                                                                                                         metrics.host
node-collector  hostPath   /sys read-only                                                                                                                          metrics.host
node-collector  port       listens on 2020/TCP (metrics)                                                                                                           self-metrics scrape, health probes
node-collector  token      ServiceAccount token mounted                                                                                                            metrics.kubelet
node-collector  rbac       get nodes/stats cluster-wide                                                                                                            metrics.kubelet
node-collector  network    in: pods{app.kubernetes.io/name=prometheus} (ns monitoring) -> node-collector :2020/TCP                                                 self-metrics scrape
node-collector  network    out: node-collector -> enrichment (ns sextant) :24321/TCP                                                                               delivery to enrichment
node-collector  network    out: node-collector -> pods{k8s-app=kube-dns} (ns kube-system) :53/UDP,53/TCP                                                           DNS
node-collector  network    out: node-collector -> 10.0.0.0/24 :10250/TCP                                                                                           metrics.kubelet
enrichment      user       uid 65532, gid 65532, runAsNonRoot true                                                                                                 enrichment.securityPreset=restricted
enrichment      container  capabilities add none drop ALL; not privileged; no privilege escalation; read-only root fs; no host namespaces; seccomp RuntimeDefault  enrichment.securityPreset=restricted
enrichment      port       listens on 24321/TCP (otlp-http)                                                                                                        delivery from the collectors, self-metrics scrape, health probes
enrichment      token      ServiceAccount token mounted                                                                                                            pod metadata (API watch)
enrichment      secret     Secret sextant-backend key token as env SEXTANT_BACKEND_TOKEN                                                                           backend.credentials
enrichment      rbac       get,list,watch pods cluster-wide                                                                                                        pod metadata (API watch)
enrichment      rbac       get,list,watch namespaces cluster-wide                                                                                                  pod metadata (API watch)
enrichment      rbac       get,list,watch replicasets.apps cluster-wide                                                                                            pod metadata (API watch)
enrichment      rbac       get,list,watch jobs.batch cluster-wide                                                                                                  pod metadata (API watch)
enrichment      network    in: node-collector (ns sextant) -> enrichment :24321/TCP                                                                                delivery from the collectors
enrichment      network    in: pods{app.kubernetes.io/name=prometheus} (ns monitoring) -> enrichment :24321/TCP                                                    self-metrics scrape
enrichment      network    out: enrichment -> 192.0.2.10/32 :6443/TCP                                                                                              pod metadata (API watch)
enrichment      network    out: enrichment -> 198.51.100.0/24 :443/TCP                                                                                             export to backend
enrichment      network    out: enrichment -> pods{k8s-app=kube-dns} (ns kube-system) :53/UDP,53/TCP                                                               DNS
`;

const TRACES_ONLY = `COMPONENT       KIND       PRIVILEGE                                                                                                                               NEEDED BY
trace-receiver  user       uid 65532, gid 65532, runAsNonRoot true                                                                                                 traceReceiver.securityPreset=restricted
trace-receiver  container  capabilities add none drop ALL; not privileged; no privilege escalation; read-only root fs; no host namespaces; seccomp RuntimeDefault  traceReceiver.securityPreset=restricted
trace-receiver  port       listens on 4318/TCP (otlp-http)                                                                                                         traces (OTLP from apps)
trace-receiver  port       listens on 8888/TCP (metrics)                                                                                                           self-metrics scrape, health probes
trace-receiver  token      ServiceAccount token mounted                                                                                                            pod metadata (API watch)
trace-receiver  secret     Secret sextant-backend key token as env SEXTANT_BACKEND_TOKEN                                                                           backend.credentials
trace-receiver  rbac       get,list,watch pods cluster-wide                                                                                                        traces (span metadata)
trace-receiver  rbac       get,list,watch namespaces cluster-wide                                                                                                  traces (span metadata)
trace-receiver  rbac       get,list,watch replicasets.apps cluster-wide                                                                                            traces (span metadata)
trace-receiver  rbac       get,list,watch jobs.batch cluster-wide                                                                                                  traces (span metadata)
trace-receiver  network    in: all pods (any ns) -> trace-receiver :4318/TCP                                                                                       traces (OTLP from apps)
trace-receiver  network    in: pods{app.kubernetes.io/name=prometheus} (ns monitoring) -> trace-receiver :8888/TCP                                                 self-metrics scrape
trace-receiver  network    out: trace-receiver -> 192.0.2.10/32 :6443/TCP                                                                                          pod metadata (API watch)
trace-receiver  network    out: trace-receiver -> 198.51.100.0/24 :443/TCP                                                                                         export to backend
trace-receiver  network    out: trace-receiver -> pods{k8s-app=kube-dns} (ns kube-system) :53/UDP,53/TCP                                                           DNS
`;

const JOURNALD_ONLY = `COMPONENT       KIND       PRIVILEGE                                                                                                                               NEEDED BY
node-collector  user       uid 0, gid 0, runAsNonRoot false                                                                                                        collector.securityPreset=root
node-collector  container  capabilities add none drop ALL; not privileged; no privilege escalation; read-only root fs; no host namespaces; seccomp RuntimeDefault  collector.securityPreset=root
node-collector  hostPath   /var/lib/sextant/checkpoints read-write                                                                                                 journald (read offsets)
node-collector  hostPath   /var/log/journal read-only                                                                                                              journald
node-collector  hostPath   /run/log/journal read-only                                                                                                              journald
node-collector  port       listens on 2020/TCP (metrics)                                                                                                           self-metrics scrape, health probes
node-collector  token      no ServiceAccount token                                                                                                                 the collector never calls the API server
node-collector  network    in: pods{app.kubernetes.io/name=prometheus} (ns monitoring) -> node-collector :2020/TCP                                                 self-metrics scrape
node-collector  network    out: node-collector -> enrichment (ns sextant) :24321/TCP                                                                               delivery to enrichment
node-collector  network    out: node-collector -> pods{k8s-app=kube-dns} (ns kube-system) :53/UDP,53/TCP                                                           DNS
enrichment      user       uid 65532, gid 65532, runAsNonRoot true                                                                                                 enrichment.securityPreset=restricted
enrichment      container  capabilities add none drop ALL; not privileged; no privilege escalation; read-only root fs; no host namespaces; seccomp RuntimeDefault  enrichment.securityPreset=restricted
enrichment      port       listens on 24321/TCP (otlp-http)                                                                                                        delivery from the collectors, self-metrics scrape, health probes
enrichment      token      ServiceAccount token mounted                                                                                                            pod metadata (API watch)
enrichment      secret     Secret sextant-backend key token as env SEXTANT_BACKEND_TOKEN                                                                           backend.credentials
enrichment      rbac       get,list,watch pods cluster-wide                                                                                                        pod metadata (API watch)
enrichment      rbac       get,list,watch namespaces cluster-wide                                                                                                  pod metadata (API watch)
enrichment      rbac       get,list,watch replicasets.apps cluster-wide                                                                                            pod metadata (API watch)
enrichment      rbac       get,list,watch jobs.batch cluster-wide                                                                                                  pod metadata (API watch)
enrichment      network    in: node-collector (ns sextant) -> enrichment :24321/TCP                                                                                delivery from the collectors
enrichment      network    in: pods{app.kubernetes.io/name=prometheus} (ns monitoring) -> enrichment :24321/TCP                                                    self-metrics scrape
enrichment      network    out: enrichment -> 192.0.2.10/32 :6443/TCP                                                                                              pod metadata (API watch)
enrichment      network    out: enrichment -> 198.51.100.0/24 :443/TCP                                                                                             export to backend
enrichment      network    out: enrichment -> pods{k8s-app=kube-dns} (ns kube-system) :53/UDP,53/TCP                                                               DNS
`;

const AUDIT_WEBHOOK_ONLY = `COMPONENT   KIND       PRIVILEGE                                                                                                                               NEEDED BY
enrichment  user       uid 65532, gid 65532, runAsNonRoot true                                                                                                 enrichment.securityPreset=restricted
enrichment  container  capabilities add none drop ALL; not privileged; no privilege escalation; read-only root fs; no host namespaces; seccomp RuntimeDefault  enrichment.securityPreset=restricted
enrichment  port       listens on 24321/TCP (otlp-http)                                                                                                        self-metrics scrape, health probes
enrichment  port       listens on 24322/TCP (audit)                                                                                                            audit.webhook (API server -> enrichment)
enrichment  token      ServiceAccount token mounted                                                                                                            pod metadata (API watch)
enrichment  secret     Secret sextant-audit-token (token) mounted read-only                                                                                    audit.webhook
enrichment  secret     Secret sextant-audit-tls (tls.crt,tls.key) mounted read-only                                                                            audit.webhook
enrichment  secret     Secret sextant-backend key token as env SEXTANT_BACKEND_TOKEN                                                                           backend.credentials
enrichment  rbac       get,list,watch pods cluster-wide                                                                                                        pod metadata (API watch)
enrichment  rbac       get,list,watch namespaces cluster-wide                                                                                                  pod metadata (API watch)
enrichment  rbac       get,list,watch replicasets.apps cluster-wide                                                                                            pod metadata (API watch)
enrichment  rbac       get,list,watch jobs.batch cluster-wide                                                                                                  pod metadata (API watch)
enrichment  network    in: 192.0.2.10/32 -> enrichment :24322/TCP                                                                                              audit.webhook (API server -> enrichment)
enrichment  network    in: pods{app.kubernetes.io/name=prometheus} (ns monitoring) -> enrichment :24321/TCP                                                    self-metrics scrape
enrichment  network    out: enrichment -> 192.0.2.10/32 :6443/TCP                                                                                              pod metadata (API watch)
enrichment  network    out: enrichment -> 198.51.100.0/24 :443/TCP                                                                                             export to backend
enrichment  network    out: enrichment -> pods{k8s-app=kube-dns} (ns kube-system) :53/UDP,53/TCP                                                               DNS
`;

void suite('sextant privileges', () => {
  // Each scenario alone, against its exact table.
  const tables: Array<[title: string, scenario: string, table: string]> = [
    ['logs only, collector in its own namespace: read-only /var/log/pods, writable checkpoints, no token, no RBAC for the collector', 'logs-only', LOGS_ONLY],
    ['metrics only with kubelet metrics: /proc and /sys read-only, a token and nodes/stats, egress to the kubelet port', 'metrics-only', METRICS_ONLY],
    ['traces only on OTLP/HTTP: no node access at all, ingress on 4318 only', 'all-off-except-traces', TRACES_ONLY],
    ['journald alone: the two journal directories read-only and the checkpoint hostPath for the cursor, and nothing of logs or metrics', 'journald-root', JOURNALD_ONLY],
    ['the audit webhook alone: port 24322, its two Secrets, ingress from the API server address only; no collector', 'audit-webhook', AUDIT_WEBHOOK_ONLY],
  ];
  for (const [title, scenario, table] of tables) {
    void test(title, async (t: TestContext) => {
      t.assert.equal(await privileges(['-f', scenarioFile(scenario)]), table);
    });
  }

  void test('journald with nonroot names the journal group; the audit file names its directory; each only when on', async (t: TestContext) => {
    const show = (r: readonly Row[], kinds: string[]): string[] => r.filter((x) => kinds.includes(x.kind)).map((x) => `${x.component} ${x.kind} ${x.privilege} <- ${x.neededBy}`);
    t.assert.deepStrictEqual(show(await rows('journald-nonroot'), ['group', 'hostPath']), [
      'node-collector group supplementalGroup 4 <- collector.nonroot.supplementalGroups',
      'node-collector group supplementalGroup 190 <- journald (systemd-journal group, collector.nonroot.journalGroup)',
      'node-collector hostPath /var/log/pods read-only <- logs',
      'node-collector hostPath /var/lib/sextant/checkpoints read-write <- logs, journald (read offsets)',
      'node-collector hostPath /var/log/journal read-only <- journald',
      'node-collector hostPath /run/log/journal read-only <- journald',
      'node-collector hostPath /proc read-only <- metrics.host',
      'node-collector hostPath /sys read-only <- metrics.host',
    ]);
    t.assert.deepStrictEqual(show(await rows('audit-file'), ['group', 'hostPath']), [
      'node-collector hostPath /var/log/pods read-only <- logs',
      'node-collector hostPath /var/lib/sextant/checkpoints read-write <- logs, audit.logFile (read offsets)',
      'node-collector hostPath /var/log/kubernetes/audit read-only <- audit.logFile',
      'node-collector hostPath /proc read-only <- metrics.host',
      'node-collector hostPath /sys read-only <- metrics.host',
    ]);
    // Off: the same preset without journald has only its own group, and no scenario but these mounts a journal or audit path.
    t.assert.deepStrictEqual(show(await rows('collector-nonroot'), ['group']), ['node-collector group supplementalGroup 4 <- collector.nonroot.supplementalGroups']);
    const all = await rows('all-on');
    t.assert.deepStrictEqual(all.filter((r) => /journal|audit|24322/.test(r.privilege + r.neededBy)), []);
  });

  void test('nodes appear only with a node rule (metadata.rules from: node), for each component that watches them', async (t: TestContext) => {
    const rbac = (r: readonly Row[]): string[] => r.filter((x) => x.kind === 'rbac').map((x) => `${x.component} ${x.privilege} <- ${x.neededBy}`);
    const metadata = (component: string, neededBy: string, nodes: boolean): string[] =>
      ['pods', 'namespaces', ...(nodes ? ['nodes'] : []), 'replicasets.apps', 'jobs.batch'].map(
        (r) => `${component} get,list,watch ${r} cluster-wide <- ${r === 'nodes' ? 'metadata.rules (from: node)' : neededBy}`,
      );
    t.assert.deepStrictEqual(rbac(await rows('metadata-rules')), [
      ...metadata('enrichment', 'pod metadata (API watch)', true),
      ...metadata('trace-receiver', 'traces (span metadata)', true),
    ]);
    t.assert.deepStrictEqual(rbac(await rows('collector-root')), [
      ...metadata('enrichment', 'pod metadata (API watch)', false),
      ...metadata('trace-receiver', 'traces (span metadata)', false),
    ]);
    // A node rule with traces off: only enrichment runs, and only it gets nodes.
    t.assert.deepStrictEqual(rbac(await rows('metadata-rules', 'logs-only')).filter((r) => r.includes(' nodes ')), [
      'enrichment get,list,watch nodes cluster-wide <- metadata.rules (from: node)',
    ]);
  });

  void test('mTLS and Splunk HEC: the HTTPS port and the mounted Secrets name their feature', async (t: TestContext) => {
    const mtls = await rows('mtls');
    t.assert.deepStrictEqual(
      mtls.filter((r) => r.neededBy === 'mtlsSecret' || (r.kind === 'port' && r.component === 'enrichment')).map((r) => `${r.component} ${r.privilege}`),
      [
        'node-collector Secret sextant-mtls (tls.crt,tls.key,ca.crt) mounted read-only',
        'enrichment listens on 24321/TCP (otlp-http, HTTPS)',
        'enrichment Secret sextant-mtls (tls.crt,tls.key,ca.crt) mounted read-only',
      ],
    );
    const hec = await rows('splunk-hec');
    t.assert.deepStrictEqual(hec.filter((r) => r.kind === 'secret').map((r) => `${r.component} ${r.privilege} <- ${r.neededBy}`), [
      'enrichment Secret sextant-hec (hec-token) mounted read-only <- backend.credentials',
    ]);
  });

  void test('json output carries the same rows; values files apply in order like helm -f', async (t: TestContext) => {
    const merged = await rows('collector-nonroot', 'netpol-off');
    t.assert.deepStrictEqual(merged.find((r) => r.component === 'node-collector' && r.kind === 'user'), {
      component: 'node-collector',
      kind: 'user',
      privilege: 'uid 10001, gid 10001, supplementalGroups 4, runAsNonRoot true',
      neededBy: 'collector.securityPreset=nonroot',
    });
    t.assert.deepStrictEqual(
      merged.filter((r) => r.kind === 'network').map((r) => `${r.component}: ${r.privilege} (${r.neededBy})`),
      ['node-collector', 'enrichment', 'trace-receiver'].map((c) => `${c}: unrestricted (no NetworkPolicy selects it) (networkPolicy.enabled=false)`),
    );
    t.assert.deepStrictEqual(
      merged.filter((r) => r.kind === 'hostPath').map((r) => r.privilege),
      ['/var/log/pods read-only', '/var/lib/sextant/checkpoints read-write', '/proc read-only', '/sys read-only'],
    );
  });
});
