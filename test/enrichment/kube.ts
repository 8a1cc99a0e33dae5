// Helpers that create Kubernetes objects in the real test API server the way controllers and
// the kubelet would (no controller-manager or kubelet runs there): owners, pods, pod status.
import { randomUUID } from 'node:crypto';
import { AppsV1Api, BatchV1Api, CoreV1Api, RbacAuthorizationV1Api } from '@kubernetes/client-node';
import type { KubeConfig, V1Pod } from '@kubernetes/client-node';

interface Kube {
  core: CoreV1Api;
  apps: AppsV1Api;
  batch: BatchV1Api;
  rbac: RbacAuthorizationV1Api;
}

function kubeClients(kc: KubeConfig): Kube {
  return { core: kc.makeApiClient(CoreV1Api), apps: kc.makeApiClient(AppsV1Api), batch: kc.makeApiClient(BatchV1Api), rbac: kc.makeApiClient(RbacAuthorizationV1Api) };
}

interface Owner {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
}

interface PodInput {
  namespace: string;
  name: string;
  node?: string;
  ip?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  owner?: Owner;
  image?: string;
}

/** Creates a pod and, like the kubelet would, marks it Running with its IP. */
async function createRunningPod(k: Kube, p: PodInput): Promise<V1Pod> {
  const created = await k.core.createNamespacedPod({
    namespace: p.namespace,
    body: {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name: p.name,
        labels: p.labels ?? {},
        annotations: p.annotations ?? {},
        ...(p.owner === undefined ? {} : { ownerReferences: [{ ...p.owner, controller: true }] }),
      },
      spec: { nodeName: p.node ?? 'node-a', containers: [{ name: 'app', image: p.image ?? 'ghcr.io/example/app:1.0' }] },
    },
  });
  const ip = p.ip ?? `10.${Math.floor(Math.random() * 200) + 20}.${Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 250) + 1}`;
  return k.core.replaceNamespacedPodStatus({
    name: p.name,
    namespace: p.namespace,
    body: { ...created, status: { phase: 'Running', podIP: ip, podIPs: [{ ip }], hostIP: '192.168.0.10', startTime: new Date() } },
  });
}

/** A ReplicaSet owned by a Deployment (the Deployment itself is not needed by the cache). */
async function createReplicaSet(k: Kube, namespace: string, name: string, deployment: string): Promise<Owner> {
  const labels = { app: deployment };
  const rs = await k.apps.createNamespacedReplicaSet({
    namespace,
    body: {
      metadata: { name, labels, ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: deployment, uid: randomUUID(), controller: true }] },
      spec: { replicas: 1, selector: { matchLabels: labels }, template: { metadata: { labels }, spec: { containers: [{ name: 'app', image: 'ghcr.io/example/app:1.0' }] } } },
    },
  });
  return { apiVersion: 'apps/v1', kind: 'ReplicaSet', name, uid: rs.metadata?.uid ?? '' };
}

/** A Job owned by a CronJob. */
async function createJob(k: Kube, namespace: string, name: string, cronJob: string): Promise<Owner> {
  const job = await k.batch.createNamespacedJob({
    namespace,
    body: {
      metadata: { name, ownerReferences: [{ apiVersion: 'batch/v1', kind: 'CronJob', name: cronJob, uid: randomUUID(), controller: true }] },
      spec: { template: { spec: { restartPolicy: 'Never', containers: [{ name: 'app', image: 'ghcr.io/example/job:2.0' }] } } },
    },
  });
  return { apiVersion: 'batch/v1', kind: 'Job', name, uid: job.metadata?.uid ?? '' };
}

async function createNode(k: Kube, name: string, labels: Record<string, string>): Promise<void> {
  await k.core.createNode({ body: { apiVersion: 'v1', kind: 'Node', metadata: { name, labels } } });
}

/**
 * The enrichment service's ClusterRole: get/list/watch on exactly the kinds the metadata cache
 * watches (the same rules as the chart's `sextant.metadata.rules`), bound to a ServiceAccount.
 */
async function grantEnrichmentRole(k: Kube, namespace: string, serviceAccount: string): Promise<void> {
  const verbs = ['get', 'list', 'watch'];
  await k.core.createNamespacedServiceAccount({ namespace, body: { metadata: { name: serviceAccount } } });
  await k.rbac.createClusterRole({
    body: {
      metadata: { name: 'sextant-enrichment' },
      rules: [
        { apiGroups: [''], resources: ['pods', 'namespaces', 'nodes'], verbs },
        { apiGroups: ['apps'], resources: ['replicasets'], verbs },
        { apiGroups: ['batch'], resources: ['jobs'], verbs },
      ],
    },
  });
  await k.rbac.createClusterRoleBinding({
    body: {
      metadata: { name: 'sextant-enrichment' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'sextant-enrichment' },
      subjects: [{ kind: 'ServiceAccount', name: serviceAccount, namespace }],
    },
  });
}

export { createJob, createNode, createReplicaSet, createRunningPod, grantEnrichmentRole, kubeClients };
export type { Kube, Owner, PodInput };
