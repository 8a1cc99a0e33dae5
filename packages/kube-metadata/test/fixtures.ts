// Realistic Kubernetes objects for tests and bench/kube-metadata: shaped like what the API server
// returns (managedFields, kubectl last-applied annotation, volumes, probes, tolerations, statuses).
import { createHash, randomUUID } from 'node:crypto';

export interface PodSpecInput {
  name: string;
  namespace?: string;
  uid?: string;
  ip?: string;
  node?: string;
  phase?: string;
  hostNetwork?: boolean;
  created?: string;
  started?: string;
  owner?: { kind: string; name: string; uid?: string };
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  containers?: Array<{ name: string; image: string; id?: string }>;
  deletionTimestamp?: string;
  resourceVersion?: string;
}

const hex = (n: number): string => {
  let s = '';
  while (s.length < n) s += Math.floor(Math.random() * 16).toString(16);
  return s;
};

export function pod(p: PodSpecInput): Record<string, unknown> {
  const ns = p.namespace ?? 'default';
  const uid = p.uid ?? randomUUID();
  const created = p.created ?? '2026-11-24T06:00:00Z';
  const containers = p.containers ?? [{ name: 'app', image: 'ghcr.io/example/app:1.4.2' }];
  const labels = p.labels ?? { app: p.name.replace(/-[a-z0-9]+-[a-z0-9]+$/, '') };
  const annotations = {
    'kubectl.kubernetes.io/last-applied-configuration': JSON.stringify({ apiVersion: 'v1', kind: 'Pod', metadata: { name: p.name, namespace: ns, labels }, spec: { containers } }),
    'prometheus.io/scrape': 'true',
    'prometheus.io/port': '8080',
    ...(p.annotations ?? {}),
  };
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: p.name,
      namespace: ns,
      uid,
      resourceVersion: p.resourceVersion ?? String(Math.floor(Math.random() * 1e7)),
      creationTimestamp: created,
      ...(p.deletionTimestamp === undefined ? {} : { deletionTimestamp: p.deletionTimestamp, deletionGracePeriodSeconds: 30 }),
      labels,
      annotations,
      ...(p.owner === undefined
        ? {}
        : { ownerReferences: [{ apiVersion: 'apps/v1', kind: p.owner.kind, name: p.owner.name, uid: p.owner.uid ?? randomUUID(), controller: true, blockOwnerDeletion: true }] }),
      managedFields: [
        {
          manager: 'kube-controller-manager',
          operation: 'Update',
          apiVersion: 'v1',
          time: created,
          fieldsType: 'FieldsV1',
          fieldsV1: { 'f:metadata': { 'f:labels': { '.': {}, 'f:app': {} } }, 'f:spec': { 'f:containers': { 'k:{"name":"app"}': { '.': {}, 'f:image': {}, 'f:name': {} } } } },
        },
        {
          manager: 'kubelet',
          operation: 'Update',
          apiVersion: 'v1',
          time: created,
          fieldsType: 'FieldsV1',
          subresource: 'status',
          fieldsV1: { 'f:status': { 'f:conditions': {}, 'f:containerStatuses': {}, 'f:hostIP': {}, 'f:phase': {}, 'f:podIP': {}, 'f:podIPs': {}, 'f:startTime': {} } },
        },
      ],
    },
    spec: {
      ...(p.hostNetwork === true ? { hostNetwork: true } : {}),
      nodeName: p.node ?? 'node-1',
      serviceAccountName: 'default',
      restartPolicy: 'Always',
      terminationGracePeriodSeconds: 30,
      dnsPolicy: 'ClusterFirst',
      schedulerName: 'default-scheduler',
      securityContext: { runAsNonRoot: true, runAsUser: 65532, seccompProfile: { type: 'RuntimeDefault' } },
      tolerations: [
        { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
        { key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
      ],
      volumes: [
        {
          name: 'kube-api-access-x',
          projected: {
            defaultMode: 420,
            sources: [
              { serviceAccountToken: { expirationSeconds: 3607, path: 'token' } },
              { configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
              { downwardAPI: { items: [{ path: 'namespace', fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' } }] } },
            ],
          },
        },
      ],
      containers: containers.map((c) => ({
        name: c.name,
        image: c.image,
        imagePullPolicy: 'IfNotPresent',
        ports: [{ name: 'http', containerPort: 8080, protocol: 'TCP' }],
        env: [{ name: 'POD_NAME', valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.name' } } }],
        resources: { limits: { memory: '256Mi' }, requests: { cpu: '100m', memory: '128Mi' } },
        readinessProbe: { httpGet: { path: '/readyz', port: 'http', scheme: 'HTTP' }, periodSeconds: 10, timeoutSeconds: 1, successThreshold: 1, failureThreshold: 3 },
        volumeMounts: [{ name: 'kube-api-access-x', readOnly: true, mountPath: '/var/run/secrets/kubernetes.io/serviceaccount' }],
        securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } },
        terminationMessagePath: '/dev/termination-log',
        terminationMessagePolicy: 'File',
      })),
    },
    status: {
      phase: p.phase ?? 'Running',
      conditions: ['PodReadyToStartContainers', 'Initialized', 'Ready', 'ContainersReady', 'PodScheduled'].map((type) => ({ type, status: 'True', lastProbeTime: null, lastTransitionTime: created })),
      hostIP: '10.0.0.10',
      hostIPs: [{ ip: '10.0.0.10' }],
      ...(p.ip === undefined ? {} : { podIP: p.ip, podIPs: [{ ip: p.ip }] }),
      startTime: p.started ?? created,
      qosClass: 'Burstable',
      containerStatuses: containers.map((c) => ({
        name: c.name,
        state: { running: { startedAt: created } },
        lastState: {},
        ready: true,
        restartCount: 0,
        image: c.image.includes('/') ? c.image : `docker.io/library/${c.image}`,
        // The same image has the same digest in every pod, as in a real cluster.
        imageID: `${c.image.split(':')[0] ?? c.image}@sha256:${createHash('sha256').update(c.image).digest('hex')}`,
        containerID: `containerd://${c.id ?? hex(64)}`,
        started: true,
      })),
    },
  };
}

export function namespace(name: string, labels: Record<string, string> = {}, annotations: Record<string, string> = {}): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name, uid: randomUUID(), resourceVersion: '1', labels: { 'kubernetes.io/metadata.name': name, ...labels }, annotations },
    spec: { finalizers: ['kubernetes'] },
    status: { phase: 'Active' },
  };
}

export function node(name: string, labels: Record<string, string> = {}): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name, uid: randomUUID(), resourceVersion: '1', labels: { 'kubernetes.io/hostname': name, 'kubernetes.io/os': 'linux', ...labels } },
    spec: { podCIDR: '10.244.0.0/24' },
    status: { nodeInfo: { kubeletVersion: 'v1.37.2' } },
  };
}

/** A namespaced object with a controller owner (ReplicaSet → Deployment, Job → CronJob, …). */
export function owned(kind: string, apiVersion: string, name: string, ns: string, owner?: { kind: string; name: string }): Record<string, unknown> {
  return {
    apiVersion,
    kind,
    metadata: {
      name,
      namespace: ns,
      uid: randomUUID(),
      resourceVersion: '1',
      ...(owner === undefined ? {} : { ownerReferences: [{ apiVersion: 'apps/v1', kind: owner.kind, name: owner.name, uid: randomUUID(), controller: true }] }),
    },
    spec: {},
  };
}

/** Polls `cond` until true or `timeoutMs` passes; for eventual effects (file reloads, watches). */
export async function eventually(cond: () => boolean, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
