// Realistic Kubernetes objects for the benchmark, shaped like what the API server returns
// (labels, the kubectl last-applied annotation, managedFields, probes, env, statuses), so the
// cache's trimming is measured on real-sized input.
import { randomUUID } from 'node:crypto';

interface BenchPod {
  namespace: string;
  name: string;
  uid: string;
  replicaSet: string;
  node: string;
  ip: string;
}

function podObject(p: BenchPod, withStatus: boolean): Record<string, unknown> {
  const app = p.replicaSet.replace(/-[a-z0-9]+$/, '');
  const labels = { app, 'app.kubernetes.io/name': app, 'app.kubernetes.io/part-of': 'shop', 'pod-template-hash': p.replicaSet.split('-').pop() ?? '' };
  const containers = [
    {
      name: 'app',
      image: `registry.example.com/shop/${app}:1.${p.name.length % 9}.0`,
      ports: [{ containerPort: 8080, name: 'http', protocol: 'TCP' }],
      env: [
        { name: 'LOG_LEVEL', value: 'info' },
        { name: 'POD_NAME', valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.name' } } },
      ],
      resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '256Mi' } },
      readinessProbe: { httpGet: { path: '/ready', port: 8080, scheme: 'HTTP' }, periodSeconds: 10 },
      volumeMounts: [{ name: 'kube-api-access', mountPath: '/var/run/secrets/kubernetes.io/serviceaccount', readOnly: true }],
    },
    { name: 'sidecar', image: 'registry.example.com/infra/proxy:2.4.1', resources: { requests: { cpu: '10m', memory: '32Mi' } } },
  ];
  const meta = {
    name: p.name,
    namespace: p.namespace,
    uid: p.uid,
    labels,
    annotations: {
      'kubectl.kubernetes.io/last-applied-configuration': JSON.stringify({ apiVersion: 'v1', kind: 'Pod', metadata: { labels }, spec: { containers } }),
      'prometheus.io/scrape': 'true',
      'prometheus.io/port': '8080',
    },
    ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: p.replicaSet, uid: randomUUID(), controller: true, blockOwnerDeletion: true }],
    managedFields: [
      { manager: 'kube-controller-manager', operation: 'Update', apiVersion: 'v1', fieldsType: 'FieldsV1', fieldsV1: { 'f:metadata': { 'f:labels': { '.': {}, 'f:app': {} } }, 'f:spec': { 'f:containers': {} } } },
      { manager: 'kubelet', operation: 'Update', apiVersion: 'v1', fieldsType: 'FieldsV1', subresource: 'status', fieldsV1: { 'f:status': { 'f:conditions': {}, 'f:containerStatuses': {}, 'f:podIP': {} } } },
    ],
  };
  const spec = {
    nodeName: p.node,
    serviceAccountName: 'default',
    containers,
    volumes: [{ name: 'kube-api-access', projected: { sources: [{ serviceAccountToken: { path: 'token', expirationSeconds: 3607 } }, { configMap: { name: 'kube-root-ca.crt' } }] } }],
    tolerations: [
      { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
      { key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
    ],
  };
  const status = {
    phase: 'Running',
    podIP: p.ip,
    podIPs: [{ ip: p.ip }],
    hostIP: '192.168.0.10',
    startTime: '2026-11-24T06:00:00Z',
    conditions: ['Initialized', 'Ready', 'ContainersReady', 'PodScheduled'].map((type) => ({ type, status: 'True', lastTransitionTime: '2026-11-24T06:00:00Z' })),
    containerStatuses: containers.map((c) => ({
      name: c.name,
      image: c.image,
      imageID: `${c.image.split(':')[0]}@sha256:${'ab'.repeat(32)}`,
      containerID: `containerd://${randomUUID().replace(/-/g, '')}${randomUUID().replace(/-/g, '')}`,
      ready: true,
      restartCount: 0,
      started: true,
      state: { running: { startedAt: '2026-11-24T06:00:01Z' } },
    })),
  };
  return { apiVersion: 'v1', kind: 'Pod', metadata: meta, spec, ...(withStatus ? { status } : {}) };
}

/** `count` pods over `namespaces` namespaces, 5 pods per ReplicaSet, 50 pods per node. */
function benchPods(count: number, namespaces: number): BenchPod[] {
  return Array.from({ length: count }, (_, i) => {
    const rs = `svc${Math.floor(i / 5)}-${(0x5d8f7b9c + Math.floor(i / 5)).toString(16)}`;
    return {
      namespace: `bench-${i % namespaces}`,
      name: `${rs}-${i.toString(36).padStart(5, 'x')}`,
      uid: randomUUID(),
      replicaSet: rs,
      node: `node-${Math.floor(i / 50)}`,
      ip: `10.${Math.floor(i / 65536) + 1}.${Math.floor(i / 256) % 256}.${i % 256}`,
    };
  });
}

export { benchPods, podObject };
export type { BenchPod };
