// The chart as helm renders it: lint, the scenario matrix (kinds, mounts, ports, RBAC rules), presets,
// schema strictness and the documentation conventions. Real helm from @sextant/test-env; no cluster needed.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { suite, test } from 'node:test';
import type { TestContext } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { helm } from '@sextant/test-env';
import { CHART_DIR, SCENARIOS, componentOf, find, podTemplates, render, renderScenario, scenarioFile } from './chart.ts';
import type { Container, Obj } from './chart.ts';

/** The parsed config.yaml of a component's ConfigMap. */
function configOf(objects: readonly Obj[], component: string): Record<string, unknown> {
  const text = (find(objects, 'ConfigMap', component)?.['data'] as Record<string, string> | undefined)?.['config.yaml'];
  if (text === undefined) throw new Error(`no config.yaml for ${component}`);
  return parseYaml(text) as Record<string, unknown>;
}

const ALL_SCENARIOS = [
  'all-off-except-traces',
  'all-on',
  'audit-file',
  'audit-webhook',
  'collector-nonroot',
  'collector-root',
  'custom-ca',
  'journald-nonroot',
  'journald-root',
  'logs-only',
  'metadata-rules',
  'metrics-only',
  'mtls',
  'netpol-off',
  'splunk-hec',
  'traces-only',
];

interface Summary {
  kinds: string[];
  mounts: string[];
  ports: string[];
  rbac: string[];
}

const shortName = (name: string): string => name.replace(/^sx-sextant-?/, '') || '(fullname)';

/** What a scenario's objects add up to, in sorted lines that read like the chart README. */
function summarize(objects: readonly Obj[]): Summary {
  const kinds = objects.map((o) => `${o.kind}/${shortName(o.metadata.name)}`).sort();
  const mounts: string[] = [];
  const ports: string[] = [];
  for (const [component, { template }] of podTemplates(objects)) {
    for (const c of template.spec.containers) {
      for (const m of c.volumeMounts ?? []) {
        const v = template.spec.volumes?.find((x) => x.name === m.name);
        const projected = v?.projected?.sources?.map((x) => x.secret?.name ?? '?');
        const source = v?.hostPath
          ? `hostPath ${v.hostPath.path}`
          : v?.secret
            ? `secret ${v.secret.secretName}`
            : v?.configMap
              ? 'configMap'
              : projected
                ? `secrets ${projected.join(',')}`
                : m.name;
        mounts.push(`${component} ${m.mountPath} ${m.readOnly === true ? 'ro' : 'rw'} <- ${source}`);
      }
      for (const p of c.ports ?? []) ports.push(`${component} ${p.name} ${p.containerPort}/${p.protocol}`);
    }
  }
  for (const s of objects.filter((o) => o.kind === 'Service')) {
    for (const p of (s['spec'] as { ports: { name: string; port: number }[] }).ports) ports.push(`Service/${shortName(s.metadata.name)} ${p.name} ${p.port}`);
  }
  const rbac: string[] = [];
  for (const r of objects.filter((o) => o.kind === 'ClusterRole' || o.kind === 'Role')) {
    for (const rule of r['rules'] as { apiGroups: string[]; resources: string[]; verbs: string[] }[]) {
      for (const g of rule.apiGroups) for (const res of rule.resources) rbac.push(`${componentOf(r)} ${r.kind} ${rule.verbs.join(',')} ${g === '' ? res : `${res}.${g}`}`);
    }
  }
  return { kinds, mounts: mounts.sort(), ports: ports.sort(), rbac: rbac.sort() };
}

// Building blocks of the expected matrix: each is what one feature adds.
const collectorKinds = ['ConfigMap/node-collector', 'DaemonSet/node-collector', 'ServiceAccount/node-collector'];
const enrichmentKinds = [
  'ClusterRole/enrichment',
  'ClusterRoleBinding/enrichment',
  'ConfigMap/enrichment',
  'PodDisruptionBudget/enrichment',
  'Service/enrichment',
  'Service/enrichment-headless',
  'ServiceAccount/enrichment',
  'StatefulSet/enrichment',
];
const traceKinds = ['ClusterRole/trace-receiver', 'ClusterRoleBinding/trace-receiver', 'ConfigMap/trace-receiver', 'Deployment/trace-receiver', 'Service/trace-receiver', 'ServiceAccount/trace-receiver'];
const dashboard = ['ConfigMap/dashboard'];
const kubeletKinds = ['ClusterRole/node-collector', 'ClusterRoleBinding/node-collector'];
const eventsKinds = ['Role/enrichment-events-leader', 'RoleBinding/enrichment-events-leader'];
const netpol = (...components: string[]): string[] => components.map((c) => `NetworkPolicy/${c}`);
const monitors = ['PodMonitor/node-collector', 'ServiceMonitor/enrichment', 'ServiceMonitor/trace-receiver'];

const collectorBaseMounts = ['node-collector /etc/sextant/config.yaml ro <- configMap', 'node-collector /tmp rw <- tmp'];
const checkpointMount = ['node-collector /var/lib/sextant/checkpoints rw <- hostPath /var/lib/sextant/checkpoints'];
const logsMounts = [...checkpointMount, 'node-collector /var/log/pods ro <- hostPath /var/log/pods'];
const journalMounts = ['node-collector /run/log/journal ro <- hostPath /run/log/journal', 'node-collector /var/log/journal ro <- hostPath /var/log/journal'];
const auditFileMounts = ['node-collector /var/log/kubernetes/audit ro <- hostPath /var/log/kubernetes/audit'];
const auditWebhookMounts = ['enrichment /etc/sextant/audit ro <- secrets sextant-audit-token,sextant-audit-tls'];
const hostMounts = ['node-collector /host/proc ro <- hostPath /proc', 'node-collector /host/sys ro <- hostPath /sys'];
const enrichmentMounts = ['enrichment /etc/sextant/config.yaml ro <- configMap', 'enrichment /tmp rw <- tmp', 'enrichment /var/lib/sextant/queue rw <- queue'];
const traceMounts = ['trace-receiver /etc/sextant/config.yaml ro <- configMap', 'trace-receiver /tmp rw <- tmp'];

const collectorPorts = ['node-collector metrics 2020/TCP'];
const enrichmentPorts = ['enrichment otlp-http 24321/TCP', 'Service/enrichment otlp-http 24321', 'Service/enrichment-headless otlp-http 24321'];
const auditWebhookPorts = ['enrichment audit 24322/TCP', 'Service/enrichment audit 24322'];
const tracePorts = (grpc: boolean, http: boolean): string[] => [
  ...(grpc ? ['trace-receiver otlp-grpc 4317/TCP', 'Service/trace-receiver otlp-grpc 4317'] : []),
  ...(http ? ['trace-receiver otlp-http 4318/TCP', 'Service/trace-receiver otlp-http 4318'] : []),
  'trace-receiver metrics 8888/TCP',
  'Service/trace-receiver metrics 8888',
];

// nodes only with a metadata.rules entry `from: node`: the components watch nodes for nothing else.
const metadataRules = (component: string, nodes = false): string[] =>
  ['pods', 'namespaces', ...(nodes ? ['nodes'] : []), 'replicasets.apps', 'jobs.batch'].map((r) => `${component} ClusterRole get,list,watch ${r}`);
const kubeletRules = ['node-collector ClusterRole get nodes/stats'];
const eventsRules = ['enrichment ClusterRole get,list,watch events.events.k8s.io', 'enrichment Role get,create,update leases.coordination.k8s.io'];

const sorted = (...parts: string[][]): string[] => parts.flat().sort();

/** The expected matrix: exactly these kinds, mounts, ports and rules, and nothing else. */
const expected: Record<string, Summary> = {
  'logs-only': {
    kinds: sorted(collectorKinds, enrichmentKinds, dashboard, netpol('node-collector', 'enrichment')),
    mounts: sorted(collectorBaseMounts, logsMounts, enrichmentMounts),
    ports: sorted(collectorPorts, enrichmentPorts),
    rbac: sorted(metadataRules('enrichment')),
  },
  'metrics-only': {
    kinds: sorted(collectorKinds, kubeletKinds, enrichmentKinds, dashboard, netpol('node-collector', 'enrichment')),
    mounts: sorted(collectorBaseMounts, hostMounts, enrichmentMounts),
    ports: sorted(collectorPorts, enrichmentPorts),
    rbac: sorted(kubeletRules, metadataRules('enrichment')),
  },
  'traces-only': {
    kinds: sorted(traceKinds, dashboard, netpol('trace-receiver')),
    mounts: sorted(traceMounts),
    ports: sorted(tracePorts(true, true)),
    rbac: sorted(metadataRules('trace-receiver')),
  },
  'all-on': {
    kinds: sorted(
      collectorKinds,
      kubeletKinds,
      enrichmentKinds,
      eventsKinds,
      traceKinds,
      dashboard,
      netpol('node-collector', 'enrichment', 'trace-receiver'),
      monitors,
    ),
    mounts: sorted(collectorBaseMounts, logsMounts, hostMounts, enrichmentMounts, traceMounts),
    ports: sorted(collectorPorts, enrichmentPorts, tracePorts(true, true)),
    rbac: sorted(kubeletRules, metadataRules('enrichment'), eventsRules, metadataRules('trace-receiver')),
  },
  'all-off-except-traces': {
    kinds: sorted(traceKinds, netpol('trace-receiver')),
    mounts: sorted(traceMounts),
    ports: sorted(tracePorts(false, true)),
    rbac: sorted(metadataRules('trace-receiver')),
  },
};
const defaults: Summary = {
  kinds: sorted(collectorKinds, enrichmentKinds, traceKinds, dashboard, netpol('node-collector', 'enrichment', 'trace-receiver')),
  mounts: sorted(collectorBaseMounts, logsMounts, hostMounts, enrichmentMounts, traceMounts),
  ports: sorted(collectorPorts, enrichmentPorts, tracePorts(true, true)),
  rbac: sorted(metadataRules('enrichment'), metadataRules('trace-receiver')),
};
expected['collector-root'] = defaults;
expected['collector-nonroot'] = defaults;
expected['netpol-off'] = { ...defaults, kinds: defaults.kinds.filter((k) => !k.startsWith('NetworkPolicy/')) };
expected['custom-ca'] = {
  ...defaults,
  mounts: sorted(
    defaults.mounts,
    ['node-collector', 'enrichment', 'trace-receiver'].map((c) => `${c} /etc/sextant/ca ro <- secret corporate-ca`),
    ['enrichment', 'trace-receiver'].map((c) => `${c} /etc/sextant/backend ro <- secret sextant-backend`),
  ),
};
expected['mtls'] = {
  ...defaults,
  kinds: sorted(defaults.kinds, monitors),
  mounts: sorted(defaults.mounts, ['node-collector', 'enrichment'].map((c) => `${c} /etc/sextant/mtls ro <- secret sextant-mtls`)),
};
// journald alone: the collector runs for it, with the journal directories and the checkpoint hostPath (the cursor).
expected['journald-root'] = {
  kinds: sorted(collectorKinds, enrichmentKinds, dashboard, netpol('node-collector', 'enrichment')),
  mounts: sorted(collectorBaseMounts, checkpointMount, journalMounts, enrichmentMounts),
  ports: sorted(collectorPorts, enrichmentPorts),
  rbac: sorted(metadataRules('enrichment')),
};
expected['journald-nonroot'] = { ...defaults, mounts: sorted(defaults.mounts, journalMounts) };
expected['audit-file'] = { ...defaults, mounts: sorted(defaults.mounts, auditFileMounts) };
// The audit webhook alone: enrichment runs for it, with its port, its Secrets and its own NetworkPolicy; no collector.
expected['audit-webhook'] = {
  kinds: sorted(enrichmentKinds, dashboard, netpol('enrichment', 'enrichment-audit-webhook')),
  mounts: sorted(enrichmentMounts, auditWebhookMounts),
  ports: sorted(enrichmentPorts, auditWebhookPorts),
  rbac: sorted(metadataRules('enrichment')),
};
// Rules from pods, namespaces and nodes: the node rule adds nodes to both ClusterRoles, and nothing else changes.
expected['metadata-rules'] = { ...defaults, rbac: sorted(metadataRules('enrichment', true), metadataRules('trace-receiver', true)) };
expected['splunk-hec'] = {
  kinds: sorted(collectorKinds, enrichmentKinds, dashboard, netpol('node-collector', 'enrichment')),
  mounts: sorted(collectorBaseMounts, logsMounts, hostMounts, enrichmentMounts, ['enrichment /etc/sextant/backend ro <- secret sextant-hec']),
  ports: sorted(collectorPorts, enrichmentPorts),
  rbac: sorted(metadataRules('enrichment')),
};

void suite('chart: helm lint and template', () => {
  void test('the scenario files are exactly the matrix the issue asks for', (t: TestContext) => {
    t.assert.deepStrictEqual([...SCENARIOS], ALL_SCENARIOS);
  });

  void test('helm lint passes with the defaults and with every scenario', async (t: TestContext) => {
    const base = await helm(['lint', CHART_DIR, '--strict']);
    t.assert.equal(base.code, 0, base.stdout + base.stderr);
    for (const s of SCENARIOS) {
      const r = await helm(['lint', CHART_DIR, '--strict', '--values', scenarioFile(s)]);
      t.assert.equal(r.code, 0, `${s}: ${r.stdout}${r.stderr}`);
      t.assert.match(r.stdout, /1 chart\(s\) linted, 0 chart\(s\) failed/);
    }
  });

  for (const s of ALL_SCENARIOS) {
    void test(`scenario ${s}: exactly the expected kinds, mounts, ports and RBAC rules`, async (t: TestContext) => {
      const summary = summarize(await renderScenario(s));
      const want = expected[s];
      if (!want) throw new Error(`no expectation for ${s}`);
      t.assert.deepStrictEqual(summary.kinds, want.kinds, 'kinds');
      t.assert.deepStrictEqual(summary.mounts, want.mounts, 'mounts');
      t.assert.deepStrictEqual(summary.ports, want.ports, 'ports');
      t.assert.deepStrictEqual(summary.rbac, want.rbac, 'RBAC rules');
    });
  }

  void test('no scenario asks for privileged mode, host namespaces, added capabilities or a writable root filesystem', async (t: TestContext) => {
    for (const s of SCENARIOS) {
      for (const [component, { template }] of podTemplates(await renderScenario(s))) {
        const where = `${s}/${component}`;
        const spec = template.spec;
        t.assert.ok(spec.hostNetwork !== true && spec.hostPID !== true && spec.hostIPC !== true, `${where}: host namespaces`);
        t.assert.deepStrictEqual((spec.securityContext?.['seccompProfile'] as { type: string }).type, 'RuntimeDefault', where);
        for (const c of spec.containers) {
          const sc = c.securityContext ?? {};
          t.assert.equal(sc['privileged'], false, `${where}: privileged`);
          t.assert.equal(sc['allowPrivilegeEscalation'], false, `${where}: privilege escalation`);
          t.assert.equal(sc['readOnlyRootFilesystem'], true, `${where}: root fs`);
          t.assert.deepStrictEqual(sc['capabilities'], { drop: ['ALL'] }, `${where}: capabilities`);
        }
        // Every hostPath is read-only except the checkpoint directory. Only paths whose absence is normal are created:
        // the checkpoints, the tmpfs /run/log/journal and the audit log directory (control-plane nodes only). Never
        // /var/log/journal: its existence would switch journald (Storage=auto) to a persistent journal.
        const created = ['/var/lib/sextant/checkpoints', '/run/log/journal', '/var/log/kubernetes/audit'];
        for (const v of spec.volumes ?? []) {
          if (!v.hostPath) continue;
          const mount = spec.containers[0]?.volumeMounts?.find((m) => m.name === v.name);
          t.assert.equal(mount?.readOnly === true, v.hostPath.path !== '/var/lib/sextant/checkpoints', `${where}: ${v.hostPath.path}`);
          t.assert.equal(v.hostPath.type, created.includes(v.hostPath.path) ? 'DirectoryOrCreate' : 'Directory', `${where}: ${v.hostPath.path}`);
        }
      }
    }
  });

  void test('presets: collector root is uid 0, nonroot is the given uid/gid/groups, enrichment and traces are restricted 65532', async (t: TestContext) => {
    const root = podTemplates(await renderScenario('collector-root'));
    t.assert.deepStrictEqual(root.get('node-collector')?.template.spec.securityContext, {
      runAsUser: 0,
      runAsGroup: 0,
      runAsNonRoot: false,
      seccompProfile: { type: 'RuntimeDefault' },
    });
    t.assert.equal(root.get('node-collector')?.template.metadata.annotations?.['sextant.io/security-preset'], 'root');
    const nonroot = podTemplates(await renderScenario('collector-nonroot'));
    t.assert.deepStrictEqual(nonroot.get('node-collector')?.template.spec.securityContext, {
      runAsUser: 10001,
      runAsGroup: 10001,
      runAsNonRoot: true,
      supplementalGroups: [4],
      seccompProfile: { type: 'RuntimeDefault' },
    });
    for (const c of ['enrichment', 'trace-receiver']) {
      const spec = root.get(c)?.template.spec;
      t.assert.deepStrictEqual(spec?.securityContext, { runAsUser: 65532, runAsGroup: 65532, fsGroup: 65532, runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
      t.assert.equal(spec?.containers[0]?.securityContext?.['runAsNonRoot'], true);
    }
  });

  void test('explicit podSecurityContext and securityContext override the preset key by key', async (t: TestContext) => {
    const r = await render({
      files: [scenarioFile('collector-root')],
      set: [
        'collector.podSecurityContext.runAsUser=1234',
        'collector.podSecurityContext.fsGroup=55',
        'collector.securityContext.readOnlyRootFilesystem=false',
        'enrichment.podSecurityContext.runAsUser=70000',
        'traceReceiver.securityContext.runAsUser=71000',
      ],
    });
    t.assert.equal(r.code, 0, r.stderr);
    const p = podTemplates(r.objects);
    const collector = p.get('node-collector')?.template.spec;
    t.assert.deepStrictEqual(collector?.securityContext, { runAsUser: 1234, runAsGroup: 0, runAsNonRoot: false, fsGroup: 55, seccompProfile: { type: 'RuntimeDefault' } });
    t.assert.equal(collector?.containers[0]?.securityContext?.['readOnlyRootFilesystem'], false);
    t.assert.deepStrictEqual(collector?.containers[0]?.securityContext?.['capabilities'], { drop: ['ALL'] });
    t.assert.equal(p.get('enrichment')?.template.spec.securityContext?.['runAsUser'], 70000);
    t.assert.equal(p.get('enrichment')?.template.spec.securityContext?.['runAsNonRoot'], true);
    t.assert.equal(p.get('trace-receiver')?.template.spec.containers[0]?.securityContext?.['runAsUser'], 71000);
  });

  void test('the collector gets a ServiceAccount token only with kubelet metrics, and never calls the API server otherwise', async (t: TestContext) => {
    for (const s of SCENARIOS) {
      const objects = await renderScenario(s);
      const collector = podTemplates(objects).get('node-collector');
      if (!collector) continue;
      const kubelet = s === 'metrics-only' || s === 'all-on';
      t.assert.equal(collector.template.spec.automountServiceAccountToken, kubelet, s);
      t.assert.equal(find(objects, 'ServiceAccount', 'node-collector')?.['automountServiceAccountToken'], false, s);
      const env = collector.template.spec.containers[0]?.env?.map((e) => e.name) ?? [];
      for (const name of ['NODE_NAME', 'POD_NAME', 'POD_NAMESPACE']) t.assert.ok(env.includes(name), `${s}: ${name}`);
      t.assert.equal(env.includes('HOST_IP'), kubelet, `${s}: HOST_IP`);
      t.assert.deepStrictEqual(collector.template.spec.containers[0]?.args, ['node-collector', '--config', '/etc/sextant/config.yaml']);
    }
  });

  void test('the enrichment StatefulSet: replicas, queue PVC with retention policy, headless Service, PDB, anti-affinity', async (t: TestContext) => {
    const objects = await renderScenario('all-on');
    const sts = find(objects, 'StatefulSet', 'enrichment');
    const spec = sts?.['spec'] as {
      replicas: number;
      serviceName: string;
      persistentVolumeClaimRetentionPolicy: unknown;
      volumeClaimTemplates: { metadata: { name: string }; spec: { accessModes: string[]; resources: { requests: { storage: string } } } }[];
      template: { spec: { affinity: { podAntiAffinity: Record<string, unknown> } } };
    };
    t.assert.equal(spec.replicas, 2);
    t.assert.equal(spec.serviceName, 'sx-sextant-enrichment-headless');
    t.assert.deepStrictEqual(spec.persistentVolumeClaimRetentionPolicy, { whenDeleted: 'Retain', whenScaled: 'Retain' });
    t.assert.equal(spec.volumeClaimTemplates[0]?.metadata.name, 'queue');
    t.assert.deepStrictEqual(spec.volumeClaimTemplates[0]?.spec.accessModes, ['ReadWriteOnce']);
    t.assert.equal(spec.volumeClaimTemplates[0]?.spec.resources.requests.storage, '10Gi');
    t.assert.deepStrictEqual(Object.keys(spec.template.spec.affinity.podAntiAffinity), ['preferredDuringSchedulingIgnoredDuringExecution']);
    const headless = objects.find((o) => o.kind === 'Service' && o.metadata.name === 'sx-sextant-enrichment-headless');
    t.assert.equal((headless?.['spec'] as { clusterIP: string }).clusterIP, 'None');
    t.assert.deepStrictEqual((find(objects, 'PodDisruptionBudget', 'enrichment')?.['spec'] as { maxUnavailable: number }).maxUnavailable, 1);
    const collectorConfig = parseYaml((find(objects, 'ConfigMap', 'node-collector')?.['data'] as Record<string, string>)['config.yaml'] ?? '') as {
      service: { name: string; port: number };
    };
    t.assert.deepStrictEqual(collectorConfig.service, { name: 'sx-sextant-enrichment-headless.sextant.svc.cluster.local', port: 24321 });

    const r = await render({
      files: [scenarioFile('all-on')],
      set: ['enrichment.antiAffinity=hard', 'enrichment.replicas=3', 'enrichment.queue.retentionPolicy.whenDeleted=Delete', 'enrichment.pdb.enabled=false'],
    });
    t.assert.equal(r.code, 0, r.stderr);
    const hard = find(r.objects, 'StatefulSet', 'enrichment')?.['spec'] as typeof spec;
    t.assert.equal(hard.replicas, 3);
    t.assert.deepStrictEqual(Object.keys(hard.template.spec.affinity.podAntiAffinity), ['requiredDuringSchedulingIgnoredDuringExecution']);
    t.assert.deepStrictEqual(hard.persistentVolumeClaimRetentionPolicy, { whenDeleted: 'Delete', whenScaled: 'Retain' });
    t.assert.equal(find(r.objects, 'PodDisruptionBudget', 'enrichment'), undefined);
  });

  void test('credentials come from Secrets only: no Secret objects, no token in any ConfigMap, env from secretKeyRef or a file', async (t: TestContext) => {
    for (const s of SCENARIOS) {
      const objects = await renderScenario(s);
      t.assert.equal(objects.filter((o) => o.kind === 'Secret').length, 0, s);
      for (const cm of objects.filter((o) => o.kind === 'ConfigMap')) t.assert.doesNotMatch(JSON.stringify(cm['data']), /sextant-backend|Bearer/i, `${s}: ${cm.metadata.name}`);
      for (const [component, { template }] of podTemplates(objects)) {
        const env = template.spec.containers[0]?.env ?? [];
        const token = env.find((e) => e.name === 'SEXTANT_BACKEND_TOKEN');
        if (component === 'node-collector') t.assert.equal(token, undefined, `${s}: the collector never holds backend credentials`);
        else if (s === 'custom-ca' || s === 'splunk-hec') t.assert.equal(token, undefined, `${s}: mountAs=file`);
        else t.assert.deepStrictEqual(token?.valueFrom, { secretKeyRef: { name: 'sextant-backend', key: 'token' } }, `${s}/${component}`);
      }
    }
    const objects = await renderScenario('custom-ca');
    const config = parseYaml((find(objects, 'ConfigMap', 'enrichment')?.['data'] as Record<string, string>)['config.yaml'] ?? '') as { exporter: unknown };
    t.assert.deepStrictEqual(config.exporter, {
      protocol: 'otlp_http',
      endpoint: 'https://otlp.example.com:443',
      compression: 'gzip',
      headers: { Authorization: 'file:/etc/sextant/backend/token' },
    });
    const envConfig = parseYaml((find(await renderScenario('collector-root'), 'ConfigMap', 'trace-receiver')?.['data'] as Record<string, string>)['config.yaml'] ?? '') as {
      exporter: unknown;
    };
    t.assert.deepStrictEqual(envConfig.exporter, { type: 'otlp_http', endpoint: 'https://otlp.example.com:443', compression: 'gzip', headers: { Authorization: 'env:SEXTANT_BACKEND_TOKEN' } });
  });

  void test('customCASecret sets NODE_EXTRA_CA_CERTS to the mounted bundle in every component', async (t: TestContext) => {
    const templates = podTemplates(await renderScenario('custom-ca'));
    t.assert.equal(templates.size, 3);
    for (const [component, { template }] of templates) {
      const env = template.spec.containers[0]?.env?.find((e) => e.name === 'NODE_EXTRA_CA_CERTS');
      t.assert.equal(env?.value, '/etc/sextant/ca/ca.crt', component);
    }
    for (const [component, { template }] of podTemplates(await renderScenario('collector-root'))) {
      t.assert.equal(template.spec.containers[0]?.env?.find((e) => e.name === 'NODE_EXTRA_CA_CERTS'), undefined, component);
    }
  });

  void test('mtlsSecret: mounted read-only in the collectors and enrichment only, TLS configs on both ends, HTTPS probes and scrapes', async (t: TestContext) => {
    const objects = await renderScenario('mtls');
    const dir = '/etc/sextant/mtls';
    for (const [component, { template }] of podTemplates(objects)) {
      const mount = template.spec.containers[0]?.volumeMounts?.find((m) => m.name === 'mtls');
      const volume = template.spec.volumes?.find((v) => v.name === 'mtls');
      if (component === 'trace-receiver') {
        t.assert.equal(mount, undefined);
        continue;
      }
      t.assert.deepStrictEqual(mount, { name: 'mtls', mountPath: dir, readOnly: true }, component);
      t.assert.equal(volume?.secret?.secretName, 'sextant-mtls', component);
    }
    const enrichment = configOf(objects, 'enrichment') as { listen: unknown };
    t.assert.deepStrictEqual(enrichment.listen, { port: 24321, tls: { certFile: `${dir}/tls.crt`, keyFile: `${dir}/tls.key`, clientCaFile: `${dir}/ca.crt` } });
    t.assert.deepStrictEqual(configOf(objects, 'node-collector')['tls'], {
      caFile: `${dir}/ca.crt`,
      certFile: `${dir}/tls.crt`,
      keyFile: `${dir}/tls.key`,
      serverName: 'sx-sextant-enrichment-headless.sextant.svc.cluster.local',
    });
    // The trace receiver is not part of this hop.
    t.assert.deepStrictEqual(find(objects, 'ConfigMap', 'trace-receiver')?.['data'], find(await renderScenario('collector-root'), 'ConfigMap', 'trace-receiver')?.['data']);
    const probes = (o: readonly Obj[]): unknown => {
      const c: Container | undefined = podTemplates(o).get('enrichment')?.template.spec.containers[0];
      return [c?.livenessProbe?.httpGet?.scheme, c?.readinessProbe?.httpGet?.scheme];
    };
    t.assert.deepStrictEqual(probes(objects), ['HTTPS', 'HTTPS']);
    const sm = objects.find((o) => o.kind === 'ServiceMonitor' && componentOf(o) === 'enrichment');
    t.assert.deepStrictEqual((sm?.['spec'] as { endpoints: unknown[] }).endpoints, [
      {
        port: 'otlp-http',
        path: '/metrics',
        interval: '30s',
        scheme: 'https',
        tlsConfig: { ca: { secret: { name: 'sextant-mtls', key: 'ca.crt' } }, serverName: 'sx-sextant-enrichment-headless.sextant.svc.cluster.local' },
      },
    ]);
    const skip = await render({ files: [scenarioFile('mtls')], set: ['serviceMonitor.insecureSkipVerify=true'] });
    t.assert.equal(skip.code, 0, skip.stderr);
    const skipSm = skip.objects.find((o) => o.kind === 'ServiceMonitor' && componentOf(o) === 'enrichment');
    t.assert.deepStrictEqual((skipSm?.['spec'] as { endpoints: { tlsConfig: unknown }[] }).endpoints[0]?.tlsConfig, { insecureSkipVerify: true });

    // Without mtlsSecret: plain HTTP, no TLS keys in either config, no scheme on the monitor.
    const plain = await renderScenario('all-on');
    t.assert.deepStrictEqual(probes(plain), ['HTTP', 'HTTP']);
    t.assert.deepStrictEqual(configOf(plain, 'enrichment')['listen'], { port: 24321 });
    t.assert.equal(configOf(plain, 'node-collector')['tls'], undefined);
    const plainSm = plain.find((o) => o.kind === 'ServiceMonitor' && componentOf(o) === 'enrichment');
    t.assert.deepStrictEqual((plainSm?.['spec'] as { endpoints: unknown[] }).endpoints, [{ port: 'otlp-http', path: '/metrics', interval: '30s' }]);
  });

  void test('journald: the collector config reads the two mounted journal directories, filtered by unit; nonroot adds the journal group', async (t: TestContext) => {
    const root = await renderScenario('journald-root');
    t.assert.deepStrictEqual(configOf(root, 'node-collector')['journald'], { dirs: ['/var/log/journal', '/run/log/journal'], units: { include: ['kubelet.service', 'containerd.service'] } });
    const collector = podTemplates(root).get('node-collector')?.template;
    t.assert.equal(collector?.spec.securityContext?.['supplementalGroups'], undefined, 'root needs no group');
    t.assert.equal(collector?.metadata.annotations?.['sextant.io/journal-group'], undefined);
    // Container logs are off: no /var/log/pods, and the collector matches no log file.
    t.assert.deepStrictEqual(configOf(root, 'node-collector')['include'], [{ namespace: '/^$/' }]);

    const nonroot = await renderScenario('journald-nonroot');
    t.assert.deepStrictEqual(configOf(nonroot, 'node-collector')['journald'], { dirs: ['/var/log/journal', '/run/log/journal'] });
    const nr = podTemplates(nonroot).get('node-collector')?.template;
    t.assert.deepStrictEqual(nr?.spec.securityContext?.['supplementalGroups'], [4, 190]);
    t.assert.equal(nr?.metadata.annotations?.['sextant.io/journal-group'], '190');
    // The documented default group, and no group at all without journald.
    const dflt = await render({ files: [scenarioFile('collector-nonroot')], set: ['journald.enabled=true'] });
    t.assert.equal(dflt.code, 0, dflt.stderr);
    t.assert.deepStrictEqual(podTemplates(dflt.objects).get('node-collector')?.template.spec.securityContext?.['supplementalGroups'], [4, 101]);
    t.assert.deepStrictEqual(podTemplates(await renderScenario('collector-nonroot')).get('node-collector')?.template.spec.securityContext?.['supplementalGroups'], [4]);
    for (const s of SCENARIOS.filter((x) => !x.startsWith('journald-'))) {
      const c = find(await renderScenario(s), 'ConfigMap', 'node-collector');
      if (c) t.assert.equal(configOf(await renderScenario(s), 'node-collector')['journald'], undefined, s);
    }
  });

  void test('audit log file: the directory of the path is mounted read-only at the same path and tailed', async (t: TestContext) => {
    const objects = await renderScenario('audit-file');
    t.assert.deepStrictEqual(configOf(objects, 'node-collector')['auditLog'], { paths: ['/var/log/kubernetes/audit/audit.log'] });
    const collector = podTemplates(objects).get('node-collector')?.template.spec;
    t.assert.deepStrictEqual(collector?.tolerations, [{ key: 'node-role.kubernetes.io/control-plane', operator: 'Exists', effect: 'NoSchedule' }]);
    const other = await render({ files: [scenarioFile('audit-file')], set: ['audit.logFile.path=/srv/apiserver/audit.json'] });
    t.assert.equal(other.code, 0, other.stderr);
    t.assert.deepStrictEqual(configOf(other.objects, 'node-collector')['auditLog'], { paths: ['/srv/apiserver/audit.json'] });
    const spec = podTemplates(other.objects).get('node-collector')?.template.spec;
    t.assert.deepStrictEqual(spec?.volumes?.find((v) => v.name === 'audit-log')?.hostPath, { path: '/srv/apiserver', type: 'DirectoryOrCreate' });
    t.assert.deepStrictEqual(spec?.containers[0]?.volumeMounts?.find((m) => m.name === 'audit-log'), { name: 'audit-log', mountPath: '/srv/apiserver', readOnly: true });
    // A path without a directory, or a relative one, is refused by the schema.
    for (const bad of ['audit.logFile.path=/audit.log', 'audit.logFile.path=audit.log', 'audit.logFile.path=/var/log/audit/']) {
      const r = await render({ set: ['audit.logFile.enabled=true', bad] });
      t.assert.notEqual(r.code, 0, bad);
      t.assert.match(r.stderr, /at '\/audit\/logFile\/path'/, bad);
    }
  });

  void test('audit webhook: its config, port, Secrets and NetworkPolicy appear only when on; HTTPS and authentication are required', async (t: TestContext) => {
    const objects = await renderScenario('audit-webhook');
    t.assert.deepStrictEqual(configOf(objects, 'enrichment')['audit'], {
      enabled: true,
      listen: { port: 24322 },
      token: 'file:/etc/sextant/audit/token',
      tls: { certFile: '/etc/sextant/audit/tls.crt', keyFile: '/etc/sextant/audit/tls.key' },
    });
    const policy = objects.find((o) => o.kind === 'NetworkPolicy' && o.metadata.name === 'sx-sextant-enrichment-audit-webhook');
    t.assert.deepStrictEqual(policy?.['spec'], {
      podSelector: { matchLabels: { 'app.kubernetes.io/name': 'sextant', 'app.kubernetes.io/instance': 'sx', 'app.kubernetes.io/component': 'enrichment' } },
      policyTypes: ['Ingress'],
      ingress: [{ ports: [{ protocol: 'TCP', port: 24322 }], from: [{ ipBlock: { cidr: '192.0.2.10/32' } }] }],
    });
    // mTLS from the API server: ca.crt of the TLS Secret joins the projection and the config.
    const mtls = await render({ files: [scenarioFile('audit-webhook')], set: ['audit.webhook.clientCertificate=true', 'audit.webhook.tokenSecret.name='] });
    t.assert.equal(mtls.code, 0, mtls.stderr);
    t.assert.deepStrictEqual(configOf(mtls.objects, 'enrichment')['audit'], {
      enabled: true,
      listen: { port: 24322 },
      tls: { certFile: '/etc/sextant/audit/tls.crt', keyFile: '/etc/sextant/audit/tls.key', clientCaFile: '/etc/sextant/audit/ca.crt' },
    });
    const projected = podTemplates(mtls.objects).get('enrichment')?.template.spec.volumes?.find((v) => v.name === 'audit-webhook')?.projected;
    t.assert.deepStrictEqual(projected?.sources, [
      { secret: { name: 'sextant-audit-tls', items: ['tls.crt', 'tls.key', 'ca.crt'].map((k) => ({ key: k, path: k })) } },
    ]);
    // Off (every other scenario): no audit section, no port 24322, no audit Secret, no audit NetworkPolicy.
    for (const s of SCENARIOS.filter((x) => x !== 'audit-webhook')) {
      const o = await renderScenario(s);
      t.assert.equal(JSON.stringify(o).includes('24322'), false, s);
      t.assert.equal(o.some((x) => x.metadata.name.endsWith('-audit-webhook')), false, s);
    }
    const refused: [string[], RegExp][] = [
      [['audit.webhook.tlsSecret='], /audit.webhook.enabled needs audit.webhook.tlsSecret/],
      [['audit.webhook.tokenSecret.name='], /needs audit.webhook.tokenSecret.name or audit.webhook.clientCertificate=true/],
    ];
    for (const [set, message] of refused) {
      const r = await render({ files: [scenarioFile('audit-webhook')], set });
      t.assert.notEqual(r.code, 0, set.join());
      t.assert.match(r.stderr, message);
    }
  });

  void test('splunk_hec: the HEC token goes to exporter.splunk.token (never a header), with the index/source/sourcetype defaults; traces refuse it', async (t: TestContext) => {
    const objects = await renderScenario('splunk-hec');
    t.assert.deepStrictEqual(configOf(objects, 'enrichment')['exporter'], {
      protocol: 'splunk_hec',
      endpoint: 'https://splunk.example.com:8088',
      compression: 'gzip',
      splunk: { token: 'file:/etc/sextant/backend/hec-token', index: 'k8s', sourcetype: 'sextant' },
    });
    const env = await render({ files: [scenarioFile('splunk-hec')], set: ['backend.credentials.mountAs=env', 'backend.splunk.index=', 'backend.headers.X-Team=a'] });
    t.assert.equal(env.code, 0, env.stderr);
    t.assert.deepStrictEqual(configOf(env.objects, 'enrichment')['exporter'], {
      protocol: 'splunk_hec',
      endpoint: 'https://splunk.example.com:8088',
      compression: 'gzip',
      headers: { 'X-Team': 'a' },
      splunk: { token: 'env:SEXTANT_BACKEND_TOKEN', sourcetype: 'sextant' },
    });
    const traces = await render({ files: [scenarioFile('splunk-hec')], set: ['traces.enabled=true'] });
    t.assert.notEqual(traces.code, 0);
    t.assert.match(traces.stderr, /backend.type splunk_hec is not supported by the trace receiver .*second release/);
    const noToken = await render({ files: [scenarioFile('splunk-hec')], set: ['backend.credentials.secretName='] });
    t.assert.notEqual(noToken.code, 0);
    t.assert.match(noToken.stderr, /backend.type splunk_hec needs the HEC token/);
  });

  void test('metadata.rules and metadata.exclude reach both components; nodes are granted only for a node rule, to each component that runs', async (t: TestContext) => {
    const objects = await renderScenario('metadata-rules');
    const rules = [
      { from: 'pod', source: 'label', key: 'app.kubernetes.io/version', tagName: 'service.version' },
      { from: 'pod', source: 'annotation', keyRegex: 'example\\.com/(.*)', tagName: 'example.$1' },
      { from: 'namespace', source: 'label', key: 'team' },
      { from: 'node', source: 'label', key: 'topology.kubernetes.io/zone', tagName: 'cloud.availability_zone' },
    ];
    const md = configOf(objects, 'enrichment')['metadata'] as Record<string, unknown>;
    t.assert.deepStrictEqual(md['rules'], rules);
    t.assert.deepStrictEqual(md['exclude'], { annotation: 'example.com/no-telemetry', value: 'yes' });
    const kube = configOf(objects, 'trace-receiver')['kube'] as Record<string, unknown>;
    t.assert.deepStrictEqual(kube['rules'], rules);
    t.assert.deepStrictEqual([kube['excludeAnnotation'], kube['excludeValue']], ['example.com/no-telemetry', 'yes']);
    // The defaults: no rules key at all, and the components' own default exclusion annotation.
    const plain = await renderScenario('collector-root');
    t.assert.equal((configOf(plain, 'enrichment')['metadata'] as Record<string, unknown>)['rules'], undefined);
    t.assert.deepStrictEqual((configOf(plain, 'enrichment')['metadata'] as Record<string, unknown>)['exclude'], { annotation: 'sextant.io/exclude', value: 'true' });
    t.assert.equal((configOf(plain, 'trace-receiver')['kube'] as Record<string, unknown>)['rules'], undefined);

    const nodeGrants = (o: readonly Obj[]): string[] =>
      summarize(o)
        .rbac.filter((r) => r.endsWith(' nodes'))
        .map((r) => r.split(' ')[0] ?? '');
    const cases: [string[], string[]][] = [
      // Pod and namespace rules only: no node access for anyone.
      [['metadata.rules[3].from=pod'], []],
      // A node rule with traces off: enrichment alone runs, and alone gets nodes.
      [['traces.enabled=false'], ['enrichment']],
      // A node rule with only the trace receiver running.
      [['logs.enabled=false', 'metrics.enabled=false'], ['trace-receiver']],
      // A node annotation rule counts as much as a label rule.
      [['metadata.rules[3].source=annotation'], ['enrichment', 'trace-receiver']],
    ];
    for (const [set, want] of cases) {
      const r = await render({ files: [scenarioFile('metadata-rules')], set });
      t.assert.equal(r.code, 0, `${set.join()}: ${r.stderr}`);
      t.assert.deepStrictEqual(nodeGrants(r.objects), want, set.join());
    }
    t.assert.deepStrictEqual(nodeGrants(objects), ['enrichment', 'trace-receiver']);
    for (const s of SCENARIOS.filter((x) => x !== 'metadata-rules')) t.assert.deepStrictEqual(nodeGrants(await renderScenario(s)), [], s);
  });

  void test('the schema is strict: a typo, an unknown preset or a bad port fails the render and names the key', async (t: TestContext) => {
    const cases: [string, RegExp][] = [
      ['logs.enabeld=true', /at '\/logs': additional properties 'enabeld' not allowed/],
      ['collector.securityPreset=privileged', /at '\/collector\/securityPreset': value must be one of 'root', 'nonroot'/],
      ['enrichment.securityPreset=baseline', /at '\/enrichment\/securityPreset': value must be 'restricted'/],
      ['traces.grpc.port=70000', /at '\/traces\/grpc\/port'/],
      ['networkPolicy.apiServer.cidrs[0]=not-a-cidr', /at '\/networkPolicy\/apiServer\/cidrs\/0'/],
      ['enrichment.queue.retentionPolicy.whenDeleted=Keep', /at '\/enrichment\/queue\/retentionPolicy\/whenDeleted'/],
      ['collector.podSecurityContext.runAsUsr=1', /additional properties 'runAsUsr' not allowed/],
      ['backend.type=splunk', /at '\/backend\/type': value must be one of 'otlp_http', 'otlp_grpc', 'splunk_hec', 'file'/],
      ['journald.unit=x', /at '\/journald': additional properties 'unit' not allowed/],
      ['audit.webhook.tlsSecrets=x', /at '\/audit\/webhook': additional properties 'tlsSecrets' not allowed/],
      ['collector.nonroot.journalGroup=-1', /at '\/collector\/nonroot\/journalGroup'/],
      ['metadata.rules[0].from=service,metadata.rules[0].source=label,metadata.rules[0].key=a', /at '\/metadata\/rules\/0\/from': value must be one of 'pod', 'namespace', 'node'/],
      ['metadata.rules[0].from=pod,metadata.rules[0].source=labels,metadata.rules[0].key=a', /at '\/metadata\/rules\/0\/source': value must be one of 'label', 'annotation'/],
      ['metadata.rules[0].from=pod,metadata.rules[0].source=label', /at '\/metadata\/rules\/0': 'oneOf' failed, none matched/],
      ['metadata.rules[0].from=pod,metadata.rules[0].source=label,metadata.rules[0].key=a,metadata.rules[0].keyRegex=b', /at '\/metadata\/rules\/0': 'oneOf' failed, subschemas 0, 1 matched/],
      ['metadata.rules[0].from=pod,metadata.rules[0].source=label,metadata.rules[0].key=a,metadata.rules[0].tag=x', /additional properties 'tag' not allowed/],
      ['metadata.exclude.annotation=', /at '\/metadata\/exclude\/annotation'/],
      ['backend.compression=lz4', /at '\/backend\/compression': value must be one of 'gzip', 'zstd', 'none'/],
    ];
    for (const [set, message] of cases) {
      const r = await render({ set: [set] });
      t.assert.notEqual(r.code, 0, set);
      t.assert.match(r.stderr, message, set);
    }
    const events = await render({ set: ['logs.enabled=false', 'metrics.enabled=false', 'events.enabled=true'] });
    t.assert.notEqual(events.code, 0);
    t.assert.match(events.stderr, /events.enabled needs the enrichment service/);
    const zstdGrpc = await render({ set: ['backend.type=otlp_grpc', 'backend.compression=zstd'] });
    t.assert.notEqual(zstdGrpc.code, 0);
    t.assert.match(zstdGrpc.stderr, /backend.compression zstd is supported by backend.type otlp_http only, not otlp_grpc \(valid: gzip, none\)/);
  });

  void test('values.yaml comments every key, and the schema forbids unknown keys in every fixed-key object', async (t: TestContext) => {
    const lines = (await readFile(join(CHART_DIR, 'values.yaml'), 'utf8')).split('\n');
    // Keys inside free-form maps (resources, selectors, labels) are values of a documented key.
    const freeForm = new Set(['resources', 'requests', 'limits', 'namespaceSelector', 'podSelector', 'matchLabels', 'labels']);
    const stack: { indent: number; key: string }[] = [];
    lines.forEach((line, i) => {
      const m = /^(\s*)([A-Za-z][\w.\/-]*):/.exec(line);
      if (!m) return;
      const indent = m[1]?.length ?? 0;
      while (stack.length > 0 && (stack.at(-1)?.indent ?? 0) >= indent) stack.pop();
      const insideFreeForm = stack.some((s) => freeForm.has(s.key));
      stack.push({ indent, key: m[2] ?? '' });
      if (insideFreeForm) return;
      let j = i - 1;
      while (j >= 0 && lines[j]?.trim() === '') j--;
      const prev = lines[j]?.trim() ?? '';
      // A key is commented when a comment precedes it, or it belongs to a list item / commented example block.
      t.assert.ok(prev.startsWith('#') || /^\s*-/.test(line), `values.yaml line ${i + 1} has no comment: ${line}`);
    });
    const schema = JSON.parse(await readFile(join(CHART_DIR, 'values.schema.json'), 'utf8')) as unknown;
    const walk = (node: unknown, path: string): void => {
      if (node === null || typeof node !== 'object') return;
      const n = node as Record<string, unknown>;
      if (n['properties'] !== undefined) t.assert.equal(n['additionalProperties'], false, `${path} allows unknown keys`);
      for (const [k, v] of Object.entries(n)) walk(v, `${path}/${k}`);
    };
    walk(schema, '#');
  });

  void test('every helper is prefixed "sextant." and has a one-line doc comment', async (t: TestContext) => {
    const text = await readFile(join(CHART_DIR, 'templates', '_helpers.tpl'), 'utf8');
    const defines = [...text.matchAll(/(?:^\{\{\/\* (.+?) \*\/\}\}\n)?^\{\{- define "([^"]+)" -\}\}/gm)];
    t.assert.ok(defines.length >= 20, `only ${defines.length} helpers found`);
    for (const m of defines) {
      t.assert.match(m[2] ?? '', /^sextant\./, `helper ${m[2]}`);
      t.assert.ok(m[1]?.startsWith(`${m[2]}:`), `helper ${m[2]} lacks its doc comment`);
    }
    t.assert.equal(defines.length, (text.match(/\{\{- define /g) ?? []).length);
  });

  void test('the Grafana dashboard queries only metrics the components export', async (t: TestContext) => {
    const cm = find(await renderScenario('collector-root'), 'ConfigMap', 'dashboard');
    const dashboard = JSON.parse((cm?.['data'] as Record<string, string>)['sextant.json'] ?? '{}') as { panels: { targets: { expr: string }[] }[] };
    t.assert.equal(cm?.metadata.labels?.['grafana_dashboard'], '1');
    const names = new Set(dashboard.panels.flatMap((p) => p.targets.flatMap((x) => x.expr.match(/\bsextant_[a-z_]+\b/g) ?? [])));
    t.assert.ok(names.size >= 8, [...names].join(', '));
    // Metric names are built from a prefix in each package's source; check each suffix is declared there.
    const sources: Record<string, string[]> = {
      sextant_node_collector_: ['packages/node-collector/src/metrics.ts'],
      sextant_enrichment_: ['packages/enrichment/src/metrics.ts', 'packages/pipeline/src/metrics.ts'],
      sextant_traces_: ['packages/trace-receiver/src/metrics.ts'],
    };
    for (const name of names) {
      const prefix = Object.keys(sources).find((p) => name.startsWith(p));
      t.assert.ok(prefix, `${name} has no known component prefix`);
      const suffix = name.slice(prefix?.length ?? 0);
      const texts = await Promise.all((sources[prefix ?? ''] ?? []).map((f) => readFile(join(CHART_DIR, '..', '..', '..', f), 'utf8')));
      t.assert.ok(texts.some((x) => x.includes(`'${suffix}'`) || x.includes(`\`\${P}${suffix}\``)), `${name} is not declared in ${(sources[prefix ?? ''] ?? []).join(', ')}`);
    }
  });

  void test('every object carries the standard labels, and selectors use only name/instance/component', async (t: TestContext) => {
    for (const o of await renderScenario('all-on')) {
      const l = o.metadata.labels ?? {};
      for (const k of ['app.kubernetes.io/name', 'app.kubernetes.io/instance', 'app.kubernetes.io/component', 'app.kubernetes.io/part-of', 'app.kubernetes.io/version', 'app.kubernetes.io/managed-by']) {
        t.assert.ok(l[k], `${o.kind}/${o.metadata.name} lacks ${k}`);
      }
      const selector = (o['spec'] as { selector?: { matchLabels?: Record<string, string> } } | undefined)?.selector;
      if (selector?.matchLabels) t.assert.deepStrictEqual(Object.keys(selector.matchLabels).sort(), ['app.kubernetes.io/component', 'app.kubernetes.io/instance', 'app.kubernetes.io/name']);
    }
  });
});
