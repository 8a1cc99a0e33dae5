// Resource attributes for a cached pod, following the OTel semantic conventions for k8s.
import { applyRules } from './rules.ts';
import type { CompiledRule } from './rules.ts';
import type { MetadataStore } from './store.ts';
import type { PodInfo } from './types.ts';

export const SERVICE_ANNOTATION_PREFIX = 'resource.opentelemetry.io/';

export interface AttributeOptions {
  readonly clusterName: string | undefined;
  readonly rules: readonly CompiledRule[];
  readonly useWellKnownLabels: boolean;
}

/** `ghcr.io:443/org/app:1.2@sha256:…` → name `ghcr.io:443/org/app`, tag `1.2`. No tag and no digest → `latest`. */
export function parseImage(image: string): { name: string; tag: string | undefined } {
  let rest = image;
  const at = rest.indexOf('@');
  const hasDigest = at >= 0;
  if (hasDigest) rest = rest.slice(0, at);
  const slash = rest.lastIndexOf('/');
  const colon = rest.lastIndexOf(':');
  if (colon > slash) return { name: rest.slice(0, colon), tag: rest.slice(colon + 1) };
  return { name: rest, tag: hasDigest ? undefined : 'latest' };
}

export interface Workload {
  deployment?: string;
  replicaset?: string;
  statefulset?: string;
  daemonset?: string;
  job?: string;
  cronjob?: string;
}

// CronJob controller names its Jobs `<cronjob>-<scheduled time in minutes since the epoch>`.
const CRONJOB_JOB_NAME = /^(.+)-\d{8,}$/;

/** Resolves the owner chain of a pod through the trimmed ReplicaSet and Job caches. */
export function workloadOf(store: MetadataStore, pod: PodInfo): Workload {
  const o = pod.owner;
  const w: Workload = {};
  if (o === undefined) return w;
  switch (o.kind) {
    case 'ReplicaSet': {
      w.replicaset = o.name;
      const rs = store.replicaSet(pod.namespace, o.name);
      if (rs !== undefined) {
        // Only a ReplicaSet whose controller is a Deployment has a deployment name.
        if (rs.owner?.kind === 'Deployment') w.deployment = rs.owner.name;
      } else {
        // Not cached (owners informer off, or not seen yet): fall back to the name heuristic that the
        // Deployment controller guarantees, `<deployment>-<pod-template-hash>`.
        const hash = pod.labels?.['pod-template-hash'];
        if (hash !== undefined && hash !== '' && o.name.endsWith(`-${hash}`)) w.deployment = o.name.slice(0, -hash.length - 1);
      }
      break;
    }
    case 'Job': {
      w.job = o.name;
      const job = store.job(pod.namespace, o.name);
      if (job !== undefined) {
        if (job.owner?.kind === 'CronJob') w.cronjob = job.owner.name;
      } else {
        // Not cached: heuristic on the CronJob controller's Job naming.
        const m = CRONJOB_JOB_NAME.exec(o.name);
        if (m?.[1] !== undefined) w.cronjob = m[1];
      }
      break;
    }
    case 'StatefulSet':
      w.statefulset = o.name;
      break;
    case 'DaemonSet':
      w.daemonset = o.name;
      break;
    default:
      break;
  }
  return w;
}

/**
 * service.name as the semantic conventions derive it for Kubernetes, first value found:
 * pod annotation `resource.opentelemetry.io/service.name`; (opt-in) pod labels
 * `app.kubernetes.io/instance`, `app.kubernetes.io/name`; then k8s.deployment.name,
 * k8s.replicaset.name, k8s.statefulset.name, k8s.daemonset.name, k8s.cronjob.name, k8s.job.name,
 * k8s.pod.name, k8s.container.name.
 * see https://opentelemetry.io/docs/specs/semconv/non-normative/k8s-attributes/ ("How service.name
 * should be calculated"; the well-known labels are opt-in there: "Tools offering this functionality
 * should provide an opt-in flag for the use of well-known labels").
 */
export function serviceNameOf(pod: PodInfo, w: Workload, useWellKnownLabels: boolean, containerName?: string): string | undefined {
  const ann = pod.annotations?.[`${SERVICE_ANNOTATION_PREFIX}service.name`];
  if (ann !== undefined && ann !== '') return ann;
  if (useWellKnownLabels) {
    const inst = pod.labels?.['app.kubernetes.io/instance'];
    if (inst !== undefined && inst !== '') return inst;
    const name = pod.labels?.['app.kubernetes.io/name'];
    if (name !== undefined && name !== '') return name;
  }
  return w.deployment ?? w.replicaset ?? w.statefulset ?? w.daemonset ?? w.cronjob ?? w.job ?? (pod.name !== '' ? pod.name : containerName);
}

export function computeAttributes(store: MetadataStore, opts: AttributeOptions, pod: PodInfo, containerName: string | undefined): Array<[string, string]> {
  const out = new Map<string, string>();
  out.set('k8s.namespace.name', pod.namespace);
  out.set('k8s.pod.name', pod.name);
  out.set('k8s.pod.uid', pod.uid);
  if (pod.startTime !== undefined) out.set('k8s.pod.start_time', pod.startTime);
  const ip = pod.hostNetwork ? undefined : pod.podIPs[0];
  if (ip !== undefined) out.set('k8s.pod.ip', ip);
  if (pod.nodeName !== undefined) out.set('k8s.node.name', pod.nodeName);
  const w = workloadOf(store, pod);
  if (w.deployment !== undefined) out.set('k8s.deployment.name', w.deployment);
  if (w.replicaset !== undefined) out.set('k8s.replicaset.name', w.replicaset);
  if (w.statefulset !== undefined) out.set('k8s.statefulset.name', w.statefulset);
  if (w.daemonset !== undefined) out.set('k8s.daemonset.name', w.daemonset);
  if (w.cronjob !== undefined) out.set('k8s.cronjob.name', w.cronjob);
  if (w.job !== undefined) out.set('k8s.job.name', w.job);
  if (containerName !== undefined) {
    const c = pod.containers.find((x) => x.name === containerName);
    if (c?.image !== undefined) {
      const img = parseImage(c.image);
      out.set('container.image.name', img.name);
      if (img.tag !== undefined) out.set('container.image.tag', img.tag);
    }
  }
  if (opts.clusterName !== undefined && opts.clusterName !== '') out.set('k8s.cluster.name', opts.clusterName);
  const svc = serviceNameOf(pod, w, opts.useWellKnownLabels, containerName);
  if (svc !== undefined) out.set('service.name', svc);
  // "All annotations with the resource.opentelemetry.io/ prefix should be translated into the
  // corresponding resource attributes" (same semconv page).
  const ann = pod.annotations;
  if (ann !== undefined) {
    for (const k in ann) {
      const v = ann[k];
      if (v !== undefined && k.startsWith(SERVICE_ANNOTATION_PREFIX) && k.length > SERVICE_ANNOTATION_PREFIX.length) out.set(k.slice(SERVICE_ANNOTATION_PREFIX.length), v);
    }
  }
  if (opts.rules.length > 0) {
    applyRules(opts.rules, 'pod', 'label', pod.labels, out);
    applyRules(opts.rules, 'pod', 'annotation', pod.annotations, out);
    const ns = store.namespaces.get(pod.namespace);
    if (ns !== undefined) {
      applyRules(opts.rules, 'namespace', 'label', ns.labels, out);
      applyRules(opts.rules, 'namespace', 'annotation', ns.annotations, out);
    }
    const node = pod.nodeName === undefined ? undefined : store.nodes.get(pod.nodeName);
    if (node !== undefined) {
      applyRules(opts.rules, 'node', 'label', node.labels, out);
      applyRules(opts.rules, 'node', 'annotation', node.annotations, out);
    }
  }
  return [...out];
}
