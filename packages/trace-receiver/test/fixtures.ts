// Pods the package tests associate against, served by kube-metadata's file source (the real
// cache, fed from a file instead of an API server).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

function pod(name: string, uid: string, ip: string, extra: { hostNetwork?: boolean; annotations?: Record<string, string>; namespace?: string } = {}): object {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace: extra.namespace ?? 'shop',
      uid,
      resourceVersion: '1',
      creationTimestamp: '2026-11-24T06:00:00Z',
      labels: { app: name },
      ...(extra.annotations === undefined ? {} : { annotations: extra.annotations }),
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: `${name}-5d8f7c9b4`, uid: `rs-${uid}`, controller: true }],
    },
    spec: { nodeName: 'node-a', hostNetwork: extra.hostNetwork === true, containers: [{ name: 'main', image: `registry.example/${name}:1.2.3` }] },
    status: { phase: 'Running', podIP: ip, podIPs: [{ ip }], startTime: '2026-11-24T06:00:01Z' },
  };
}

const PODS = {
  /** Matched by peer address 127.0.0.5. */
  web: { name: 'web', uid: '11111111-1111-4111-8111-111111111111', ip: '127.0.0.5' },
  /** hostNetwork: its IP must never match. */
  hostnet: { name: 'node-agent', uid: '22222222-2222-4222-8222-222222222222', ip: '127.0.0.6' },
  /** Carries the exclusion annotation. */
  excluded: { name: 'noisy', uid: '33333333-3333-4333-8333-333333333333', ip: '127.0.0.7' },
  /** Only reachable by uid or name (its IP is not the client's). */
  api: { name: 'api', uid: '44444444-4444-4444-8444-444444444444', ip: '10.244.0.9' },
} as const;

function writePodsFile(): { path: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'sextant-traces-pods-'));
  const path = join(dir, 'pods.yaml');
  const items = [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop', uid: 'ns-shop', resourceVersion: '1' } },
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'kube-system', uid: 'ns-ks', resourceVersion: '1' } },
    pod(PODS.web.name, PODS.web.uid, PODS.web.ip),
    pod(PODS.hostnet.name, PODS.hostnet.uid, PODS.hostnet.ip, { hostNetwork: true, namespace: 'kube-system' }),
    pod(PODS.excluded.name, PODS.excluded.uid, PODS.excluded.ip, { annotations: { 'sextant.io/exclude': 'true' } }),
    pod(PODS.api.name, PODS.api.uid, PODS.api.ip),
  ];
  writeFileSync(path, JSON.stringify({ apiVersion: 'v1', kind: 'List', items }));
  return { path, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export { PODS, writePodsFile };
