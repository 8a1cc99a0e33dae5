// The bundled Kubernetes objects (packages/cli/demo-data/objects.yaml): the demo writes logs for
// exactly the Pods listed there, so every log path's UID is one the metadata source knows.
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';

export interface DemoPod {
  namespace: string;
  name: string;
  uid: string;
  containers: string[];
}

/** Absolute path of the bundled objects file. */
export const demoObjectsPath: string = fileURLToPath(new URL('../../demo-data/objects.yaml', import.meta.url));

export async function loadDemoPods(path: string = demoObjectsPath): Promise<DemoPod[]> {
  const pods: DemoPod[] = [];
  for (const doc of parseAllDocuments(await readFile(path, 'utf8'))) {
    const o = doc.toJS() as { kind?: string; metadata?: { name?: string; namespace?: string; uid?: string }; spec?: { containers?: Array<{ name?: string }> } } | null;
    if (o?.kind !== 'Pod') continue;
    const m = o.metadata ?? {};
    if (m.name === undefined || m.namespace === undefined || m.uid === undefined) throw new Error(`${path}: a Pod lacks metadata.name, namespace or uid`);
    const containers = (o.spec?.containers ?? []).map((c) => c.name).filter((n): n is string => typeof n === 'string');
    pods.push({ namespace: m.namespace, name: m.name, uid: m.uid, containers });
  }
  return pods;
}
