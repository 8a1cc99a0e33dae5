// Public shapes of the trimmed objects the cache holds. Each object is trimmed on arrival
// to these fields only; see LESSONS.md "API server load and memory".

export interface OwnerInfo {
  readonly kind: string;
  readonly name: string;
  readonly uid: string;
}

export interface ContainerInfo {
  readonly name: string;
  /** Image as written in the pod spec, e.g. `nginx:1.27` or `ghcr.io/a/b@sha256:…`. */
  readonly image: string | undefined;
  /** Runtime container ID without the `containerd://` (or other runtime) prefix. */
  readonly containerId: string | undefined;
  /** Image ID reported by the runtime (status.containerStatuses[].imageID). */
  readonly imageId: string | undefined;
}

export interface PodInfo {
  readonly uid: string;
  readonly name: string;
  readonly namespace: string;
  readonly resourceVersion: string;
  readonly labels: Readonly<Record<string, string>> | undefined;
  /** Only the annotation keys the rules, exclusion and service.name need, unless `keepAllAnnotations`. */
  readonly annotations: Readonly<Record<string, string>> | undefined;
  /** The controller owner reference (the one with `controller: true`). */
  readonly owner: OwnerInfo | undefined;
  readonly nodeName: string | undefined;
  readonly hostNetwork: boolean;
  readonly podIPs: readonly string[];
  readonly phase: string | undefined;
  readonly startTime: string | undefined;
  readonly creationTimestamp: string | undefined;
  readonly deletionTimestamp: string | undefined;
  /** Init and regular containers: spec image joined with status IDs. */
  readonly containers: readonly ContainerInfo[];
  /** Epoch ms when the cache learnt the pod was deleted; undefined while it exists. */
  readonly deletedAt: number | undefined;
}

/** Trimmed Namespace or Node: name, uid, labels, annotations. */
export interface ObjectMetaInfo {
  readonly uid: string;
  readonly name: string;
  readonly resourceVersion: string;
  readonly labels: Readonly<Record<string, string>> | undefined;
  readonly annotations: Readonly<Record<string, string>> | undefined;
}

/** Trimmed ReplicaSet or Job: only its controller owner is kept. */
export interface OwnedInfo {
  readonly uid: string;
  readonly name: string;
  readonly namespace: string;
  readonly resourceVersion: string;
  readonly owner: OwnerInfo | undefined;
}

/** How a pod is looked up. The first field present wins, in this order. */
export type PodKey =
  | { readonly uid: string }
  | { readonly namespace: string; readonly name: string }
  | { readonly ip: string }
  | { readonly containerId: string };

export type MissReason = 'no_key' | 'not_synced' | 'not_found_after_wait';

export interface ExtractRule {
  readonly from: 'pod' | 'namespace' | 'node';
  readonly source: 'label' | 'annotation';
  /** Exact key. One of `key` and `keyRegex` is required. */
  readonly key?: string;
  /** Regex matched against the whole key (anchored), like k8sattributes `key_regex`. */
  readonly keyRegex?: string;
  /**
   * Attribute name. Default `k8s.<from>.labels.<key>` / `k8s.<from>.annotations.<key>`
   * (the k8sattributes processor's default tag names). With `keyRegex` it may use `$1`… capture groups.
   */
  readonly tagName?: string;
}
