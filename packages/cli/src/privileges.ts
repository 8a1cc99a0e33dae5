// `sextant privileges`: what a release asks of the cluster, computed from the objects the chart renders
// (so it cannot disagree with what `helm install` would create), each with the feature that needs it.
import { parseArgs } from 'node:util';
import { CliError } from './errors.ts';
import { chartArgOptions, renderChart, renderOptionsFromArgs } from './helm.ts';
import type { K8sObject } from './helm.ts';
import type { CliIo, Command } from './io.ts';

export type PrivilegeKind = 'user' | 'group' | 'container' | 'hostPath' | 'port' | 'token' | 'secret' | 'rbac' | 'network';

export interface Privilege {
  readonly component: string;
  readonly kind: PrivilegeKind;
  readonly privilege: string;
  readonly neededBy: string;
}

const componentOrder = ['node-collector', 'enrichment', 'trace-receiver'];
const kindOrder: readonly PrivilegeKind[] = ['user', 'group', 'container', 'hostPath', 'port', 'token', 'secret', 'rbac', 'network'];

/** Why each chart volume exists (volume names are set by the chart templates). */
const hostPathFeatures: Readonly<Record<string, string>> = {
  'pod-logs': 'logs',
  'host-proc': 'metrics.host',
  'host-sys': 'metrics.host',
  'journal-var': 'journald',
  'journal-run': 'journald',
  'audit-log': 'audit.logFile',
};

/** The sources whose read positions live in the checkpoint hostPath, by the volume each reads from. */
const checkpointedSources: readonly (readonly [string, string])[] = [
  ['pod-logs', 'logs'],
  ['journal-var', 'journald'],
  ['audit-log', 'audit.logFile'],
];

/** Why each non-hostPath Secret volume exists. */
const secretVolumeFeatures: Readonly<Record<string, string>> = {
  'custom-ca': 'customCASecret',
  mtls: 'mtlsSecret',
  'backend-credentials': 'backend.credentials',
  'audit-webhook': 'audit.webhook',
};

/** Why each container port exists, by component and port name. */
const portFeatures: Readonly<Record<string, string>> = {
  'node-collector/metrics': 'self-metrics scrape, health probes',
  'enrichment/otlp-http': 'delivery from the collectors, self-metrics scrape, health probes',
  'enrichment/audit': 'audit.webhook (API server -> enrichment)',
  'trace-receiver/otlp-grpc': 'traces (OTLP from apps)',
  'trace-receiver/otlp-http': 'traces (OTLP from apps)',
  'trace-receiver/metrics': 'self-metrics scrape, health probes',
};

/** Why each NetworkPolicy rule exists, by the purpose the chart annotates it with. */
const rulePurposes: Readonly<Record<string, string>> = {
  enrichment: 'delivery to enrichment',
  delivery: 'delivery from the collectors',
  dns: 'DNS',
  kubelet: 'metrics.kubelet',
  'api-server': 'pod metadata (API watch)',
  backend: 'export to backend',
  'metrics-scrape': 'self-metrics scrape',
  otlp: 'traces (OTLP from apps)',
  'audit-webhook': 'audit.webhook (API server -> enrichment)',
};

/** Why each RBAC resource is granted. */
const resourceFeatures: Readonly<Record<string, string>> = {
  'nodes/stats': 'metrics.kubelet',
  // The chart grants nodes only for a metadata.rules entry `from: node` (the components watch nodes for nothing else).
  nodes: 'metadata.rules (from: node)',
  'events.events.k8s.io': 'events',
  'leases.coordination.k8s.io': 'events (leader election)',
};

interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: { key: string; operator: string; values?: string[] }[];
}
interface Peer {
  namespaceSelector?: LabelSelector;
  podSelector?: LabelSelector;
  ipBlock?: { cidr: string; except?: string[] };
}
interface PolicyRule {
  from?: Peer[];
  to?: Peer[];
  ports?: { protocol?: string; port?: number | string }[];
}
interface HttpProbe {
  httpGet?: { port?: number | string; scheme?: string };
}
interface Container {
  name: string;
  env?: { name: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } }[];
  ports?: { name?: string; containerPort: number; protocol?: string }[];
  volumeMounts?: { name: string; mountPath: string; readOnly?: boolean }[];
  securityContext?: Record<string, unknown>;
  readinessProbe?: HttpProbe;
}
interface SecretSource {
  secretName?: string;
  name?: string;
  items?: { key: string }[];
}
interface PodSpec {
  automountServiceAccountToken?: boolean;
  hostNetwork?: boolean;
  hostPID?: boolean;
  hostIPC?: boolean;
  securityContext?: Record<string, unknown>;
  containers: Container[];
  volumes?: { name: string; hostPath?: { path: string }; secret?: SecretSource; projected?: { sources?: { secret?: SecretSource }[] } }[];
}

function componentOf(o: { metadata?: { labels?: Record<string, string> } }): string {
  return o.metadata?.labels?.['app.kubernetes.io/component'] ?? o.metadata?.labels?.['app.kubernetes.io/name'] ?? '?';
}

function selectorText(s: LabelSelector | undefined): string {
  const parts = Object.entries(s?.matchLabels ?? {}).map(([k, v]) => `${k}=${v}`);
  for (const e of s?.matchExpressions ?? []) parts.push(`${e.key} ${e.operator}${e.values ? ` (${e.values.join(',')})` : ''}`);
  return parts.join(',');
}

function namespaceText(s: LabelSelector | undefined): string {
  const labels = s?.matchLabels ?? {};
  const name = labels['kubernetes.io/metadata.name'];
  if (name !== undefined && Object.keys(labels).length === 1 && !s?.matchExpressions?.length) return `(ns ${name})`;
  const text = selectorText(s);
  return text === '' ? '(any ns)' : `(ns{${text}})`;
}

function peerText(p: Peer): string {
  if (p.ipBlock) return p.ipBlock.except?.length ? `${p.ipBlock.cidr} except ${p.ipBlock.except.join(',')}` : p.ipBlock.cidr;
  const labels = p.podSelector?.matchLabels ?? {};
  const sextant = labels['app.kubernetes.io/component'];
  let pods: string;
  if (sextant !== undefined && labels['app.kubernetes.io/instance'] !== undefined) pods = sextant;
  else {
    const text = selectorText(p.podSelector);
    pods = p.podSelector === undefined || text === '' ? 'all pods' : `pods{${text}}`;
  }
  if (p.namespaceSelector === undefined) return `${pods} (own ns)`;
  return `${pods} ${namespaceText(p.namespaceSelector)}`;
}

function portsText(r: PolicyRule): string {
  if (!r.ports?.length) return 'any';
  return r.ports.map((p) => `${p.port ?? 'any'}/${p.protocol ?? 'TCP'}`).join(',');
}

function onOff(v: unknown, yes: string, no: string): string {
  return v === true ? yes : no;
}

function workloadPrivileges(o: K8sObject, withCollector: boolean, out: Privilege[]): void {
  const component = componentOf(o);
  const template = (o['spec'] as { template: { metadata?: { annotations?: Record<string, string> }; spec: PodSpec } }).template;
  const pod = template.spec;
  const preset = template.metadata?.annotations?.['sextant.io/security-preset'] ?? 'custom';
  const journalGroup = template.metadata?.annotations?.['sextant.io/journal-group'];
  const presetKey = component === 'node-collector' ? 'collector' : component === 'trace-receiver' ? 'traceReceiver' : component;
  const sc = pod.securityContext ?? {};
  for (const c of pod.containers) {
    const csc = c.securityContext ?? {};
    const id = (key: string): string => JSON.stringify(csc[key] ?? sc[key] ?? 'image default (65532)').replaceAll('"', '');
    const uid = id('runAsUser');
    const gid = id('runAsGroup');
    const groups = (sc['supplementalGroups'] as number[] | undefined) ?? [];
    const nonRoot = (csc['runAsNonRoot'] ?? sc['runAsNonRoot']) === true;
    out.push({
      component,
      kind: 'user',
      privilege: `uid ${uid}, gid ${gid}${groups.length ? `, supplementalGroups ${groups.join(',')}` : ''}, runAsNonRoot ${String(nonRoot)}`,
      neededBy: `${presetKey}.securityPreset=${preset}`,
    });
    for (const g of groups) {
      out.push({
        component,
        kind: 'group',
        privilege: `supplementalGroup ${g}`,
        neededBy: String(g) === journalGroup ? 'journald (systemd-journal group, collector.nonroot.journalGroup)' : `${presetKey}.nonroot.supplementalGroups`,
      });
    }
    const caps = csc['capabilities'] as { add?: string[]; drop?: string[] } | undefined;
    const hostNs = [pod.hostNetwork && 'network', pod.hostPID && 'pid', pod.hostIPC && 'ipc'].filter(Boolean);
    out.push({
      component,
      kind: 'container',
      privilege: [
        `capabilities add ${caps?.add?.length ? caps.add.join(',') : 'none'} drop ${caps?.drop?.join(',') ?? 'none'}`,
        onOff(csc['privileged'], 'privileged', 'not privileged'),
        onOff(csc['allowPrivilegeEscalation'], 'privilege escalation allowed', 'no privilege escalation'),
        onOff(csc['readOnlyRootFilesystem'], 'read-only root fs', 'writable root fs'),
        hostNs.length ? `host ${hostNs.join(',')}` : 'no host namespaces',
        `seccomp ${(csc['seccompProfile'] as { type?: string } | undefined)?.type ?? (sc['seccompProfile'] as { type?: string } | undefined)?.type ?? 'unset'}`,
      ].join('; '),
      neededBy: `${presetKey}.securityPreset=${preset}`,
    });
    for (const v of pod.volumes ?? []) {
      if (!v.hostPath) continue;
      const mount = c.volumeMounts?.find((m) => m.name === v.name);
      if (!mount) continue;
      let neededBy = hostPathFeatures[v.name] ?? `volume ${v.name}`;
      if (v.name === 'checkpoints') {
        const mounted = new Set(pod.volumes?.map((x) => x.name));
        const users = checkpointedSources.filter(([volume]) => mounted.has(volume)).map(([, feature]) => feature);
        neededBy = `${users.length ? users.join(', ') : 'the collector'} (read offsets)`;
      }
      out.push({ component, kind: 'hostPath', privilege: `${v.hostPath.path} ${mount.readOnly === true ? 'read-only' : 'read-write'}`, neededBy });
    }
    const probePort = c.readinessProbe?.httpGet?.port;
    for (const p of c.ports ?? []) {
      const https = probePort !== undefined && (probePort === p.name || probePort === p.containerPort) && c.readinessProbe?.httpGet?.scheme === 'HTTPS';
      out.push({
        component,
        kind: 'port',
        privilege: `listens on ${p.containerPort}/${p.protocol ?? 'TCP'} (${p.name ?? 'unnamed'}${https ? ', HTTPS' : ''})`,
        neededBy:
          component === 'enrichment' && p.name === 'otlp-http' && !withCollector
            ? 'self-metrics scrape, health probes'
            : (portFeatures[`${component}/${p.name ?? ''}`] ?? `port ${p.name ?? p.containerPort}`),
      });
    }
    for (const v of pod.volumes ?? []) {
      if (!c.volumeMounts?.some((m) => m.name === v.name)) continue;
      const sources = v.secret ? [v.secret] : (v.projected?.sources ?? []).flatMap((x) => (x.secret ? [x.secret] : []));
      for (const secret of sources) {
        const keys = secret.items?.map((i) => i.key).join(',') ?? 'all keys';
        out.push({
          component,
          kind: 'secret',
          privilege: `Secret ${secret.secretName ?? secret.name ?? '?'} (${keys}) mounted read-only`,
          neededBy: secretVolumeFeatures[v.name] ?? `volume ${v.name}`,
        });
      }
    }
    for (const e of c.env ?? []) {
      const ref = e.valueFrom?.secretKeyRef;
      if (!ref) continue;
      out.push({ component, kind: 'secret', privilege: `Secret ${ref.name} key ${ref.key} as env ${e.name}`, neededBy: 'backend.credentials' });
    }
  }
  out.push({
    component,
    kind: 'token',
    privilege: pod.automountServiceAccountToken === false ? 'no ServiceAccount token' : 'ServiceAccount token mounted',
    neededBy: pod.automountServiceAccountToken === false ? 'the collector never calls the API server' : component === 'node-collector' ? 'metrics.kubelet' : 'pod metadata (API watch)',
  });
}

function rbacPrivileges(objects: readonly K8sObject[], out: Privilege[]): void {
  const roles = new Map<string, K8sObject>();
  for (const o of objects) if (o.kind === 'ClusterRole' || o.kind === 'Role') roles.set(`${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`, o);
  for (const b of objects) {
    if (b.kind !== 'ClusterRoleBinding' && b.kind !== 'RoleBinding') continue;
    const ref = b['roleRef'] as { kind: string; name: string };
    const role = roles.get(`${ref.kind}/${ref.kind === 'Role' ? (b.metadata.namespace ?? '') : ''}/${ref.name}`);
    if (!role) continue;
    const scope = b.kind === 'ClusterRoleBinding' ? 'cluster-wide' : `in ns ${b.metadata.namespace ?? '?'}`;
    const component = componentOf(b);
    for (const rule of (role['rules'] as { apiGroups?: string[]; resources?: string[]; verbs: string[] }[] | undefined) ?? []) {
      for (const group of rule.apiGroups ?? ['']) {
        for (const resource of rule.resources ?? []) {
          const name = group === '' ? resource : `${resource}.${group}`;
          out.push({
            component,
            kind: 'rbac',
            privilege: `${rule.verbs.join(',')} ${name} ${scope}`,
            neededBy: resourceFeatures[name] ?? (component === 'trace-receiver' ? 'traces (span metadata)' : 'pod metadata (API watch)'),
          });
        }
      }
    }
  }
}

function networkPrivileges(o: K8sObject, out: Privilege[]): void {
  const component = componentOf(o);
  const spec = o['spec'] as { ingress?: PolicyRule[] | null; egress?: PolicyRule[] | null };
  const purposes = (key: string): string[] => (o.metadata.annotations?.[key] ?? '').split(',').filter((s) => s !== '');
  const ingressPurposes = purposes('sextant.io/ingress-rules');
  const egressPurposes = purposes('sextant.io/egress-rules');
  (spec.ingress ?? []).forEach((r, i) => {
    const p = ingressPurposes[i];
    const feature = p === undefined ? 'custom rule' : (rulePurposes[p] ?? p);
    const sources = r.from?.length ? r.from.map(peerText) : ['any source'];
    for (const s of sources) out.push({ component, kind: 'network', privilege: `in: ${s} -> ${component} :${portsText(r)}`, neededBy: feature });
  });
  (spec.egress ?? []).forEach((r, i) => {
    const p = egressPurposes[i];
    const feature = p === undefined ? 'custom rule' : (rulePurposes[p] ?? p);
    const dests = r.to?.length ? r.to.map(peerText) : ['any address'];
    for (const d of dests) out.push({ component, kind: 'network', privilege: `out: ${component} -> ${d} :${portsText(r)}`, neededBy: feature });
  });
}

/** Every privilege the rendered objects ask for, sorted by component and kind. */
export function collectPrivileges(objects: readonly K8sObject[]): Privilege[] {
  const out: Privilege[] = [];
  const workloads = objects.filter((o) => o.kind === 'DaemonSet' || o.kind === 'StatefulSet' || o.kind === 'Deployment');
  const withCollector = workloads.some((w) => componentOf(w) === 'node-collector');
  for (const w of workloads) workloadPrivileges(w, withCollector, out);
  rbacPrivileges(objects, out);
  const policies = objects.filter((o) => o.kind === 'NetworkPolicy');
  for (const p of policies) networkPrivileges(p, out);
  for (const w of workloads) {
    const component = componentOf(w);
    if (!policies.some((p) => componentOf(p) === component)) {
      out.push({ component, kind: 'network', privilege: 'unrestricted (no NetworkPolicy selects it)', neededBy: 'networkPolicy.enabled=false' });
    }
  }
  const rank = (c: string): number => (componentOrder.includes(c) ? componentOrder.indexOf(c) : componentOrder.length);
  // Stable sort keeps the chart's own order within a component and kind.
  return out.sort((a, b) => rank(a.component) - rank(b.component) || a.component.localeCompare(b.component) || kindOrder.indexOf(a.kind) - kindOrder.indexOf(b.kind));
}

/** A plain-text table with aligned columns and a header row. */
export function formatPrivileges(privileges: readonly Privilege[]): string {
  const rows = [['COMPONENT', 'KIND', 'PRIVILEGE', 'NEEDED BY'], ...privileges.map((p) => [p.component, p.kind, p.privilege, p.neededBy])];
  const widths = [0, 1, 2].map((i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((cell, i) => (i < 3 ? cell.padEnd(widths[i] ?? 0) : cell)).join('  ')).join('\n') + '\n';
}

const usage = `Usage: sextant privileges [-f values.yaml]... [--chart DIR] [--release NAME] [--namespace NS] [--output table|json]

Renders the Sextant chart with helm (env SEXTANT_HELM, else helm on PATH) and prints every privilege the
release asks for: user and group ids and securityContext, hostPath mounts, listening ports, ServiceAccount
tokens, Secrets, RBAC rules and the network flows its NetworkPolicies allow, each with the feature that needs it.
`;

export const privilegesCommand: Command = {
  summary: 'print the privileges a release with these values asks for, and why',
  async run(args: readonly string[], io: CliIo): Promise<number> {
    let parsed;
    try {
      parsed = parseArgs({
        args: [...args],
        options: {
          ...chartArgOptions,
          output: { type: 'string', short: 'o' },
        },
        allowPositionals: false,
      });
    } catch (err) {
      throw new CliError('SEXTANT_CLI_USAGE', `${(err as Error).message}\n${usage}`);
    }
    const v = parsed.values;
    if (v.help === true) {
      io.stdout(usage);
      return 0;
    }
    const output = v.output ?? 'table';
    if (output !== 'table' && output !== 'json') throw new CliError('SEXTANT_CLI_USAGE', `--output "${output}" is not one of table, json`);
    const opts = renderOptionsFromArgs(v, io.env);
    const privileges = collectPrivileges(await renderChart(opts));
    io.stdout(output === 'json' ? `${JSON.stringify(privileges, null, 2)}\n` : formatPrivileges(privileges));
    return 0;
  },
};
