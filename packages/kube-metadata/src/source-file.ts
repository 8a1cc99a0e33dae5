// File source: a YAML or JSON file (multi-document, or `kind: List`) of Kubernetes objects.
// Used by tests, demos and air-gapped replays; with `watch` the file is reloaded when it changes and
// objects missing from the new version are deleted (pods then enter the grace period).
import { watch as fsWatch } from 'node:fs';
import type { FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { KubeMetadataError } from './errors.ts';

export interface FileObjects {
  readonly byKind: Map<string, unknown[]>;
}

const KNOWN_KINDS = new Set(['Pod', 'Namespace', 'Node', 'ReplicaSet', 'Deployment', 'Job', 'CronJob', 'StatefulSet', 'DaemonSet']);

export async function readObjectFile(path: string): Promise<FileObjects> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new KubeMetadataError('SEXTANT_KUBE_FILE_UNREADABLE', `${path}: ${(err as Error).message}`, { cause: err });
  }
  const byKind = new Map<string, unknown[]>();
  const add = (o: unknown, where: string): void => {
    if (o === null || o === undefined) return;
    if (typeof o !== 'object' || Array.isArray(o)) throw new KubeMetadataError('SEXTANT_KUBE_FILE_INVALID', `${path}: ${where} is not an object`);
    const kind = (o as { kind?: unknown }).kind;
    if (kind === 'List' || (typeof kind === 'string' && kind.endsWith('List'))) {
      const items = (o as { items?: unknown }).items;
      if (!Array.isArray(items)) throw new KubeMetadataError('SEXTANT_KUBE_FILE_INVALID', `${path}: ${where} is a List without items`);
      items.forEach((it, i) => add(it, `${where} item ${i}`));
      return;
    }
    if (typeof kind !== 'string' || !KNOWN_KINDS.has(kind)) {
      throw new KubeMetadataError(
        'SEXTANT_KUBE_FILE_INVALID',
        `${path}: ${where} has kind ${JSON.stringify(kind)}; valid: ${[...KNOWN_KINDS].join(', ')} or a List of them`,
      );
    }
    let list = byKind.get(kind);
    if (list === undefined) byKind.set(kind, (list = []));
    list.push(o);
  };
  const head = text.trimStart()[0];
  if (head === '{' || head === '[') {
    // JSON is YAML, but JSON.parse is far faster on large dumps (`kubectl get pods -A -o json`).
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    if (parsed !== undefined) {
      if (Array.isArray(parsed)) parsed.forEach((o, i) => add(o, `item ${i}`));
      else add(parsed, 'document 0');
      return { byKind };
    }
  }
  const docs = parseAllDocuments(text);
  const all = Array.isArray(docs) ? docs : [docs];
  all.forEach((doc, i) => {
    if (doc.errors.length > 0) {
      throw new KubeMetadataError('SEXTANT_KUBE_FILE_INVALID', `${path}: document ${i}: ${doc.errors[0]?.message ?? 'parse error'}`);
    }
    add(doc.toJS(), `document ${i}`);
  });
  return { byKind };
}

/** Calls `onChange` (debounced) when the file is written or replaced. Non-persistent: never keeps the process alive. */
export function watchFile(path: string, onChange: () => void): { close(): void } {
  const name = basename(path);
  let timer: NodeJS.Timeout | undefined;
  // Watch the directory: editors and `kubectl get -o yaml > f` replace the file by rename.
  const w: FSWatcher = fsWatch(dirname(path), { persistent: false }, (_event, file) => {
    if (file !== null && file !== name) return;
    if (timer !== undefined) clearTimeout(timer);
    timer = setTimeout(onChange, 50);
    timer.unref();
  });
  w.on('error', () => undefined);
  return {
    close(): void {
      if (timer !== undefined) clearTimeout(timer);
      w.close();
    },
  };
}
