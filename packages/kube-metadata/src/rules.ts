// Extraction rules in the shape of the OTel Collector k8sattributes processor's
// `extract.labels` / `extract.annotations`: a key or an anchored key regex, and a tag name that
// defaults to `k8s.<from>.labels.<key>` / `k8s.<from>.annotations.<key>` (the processor's default,
// non-singular tag names) and may use `$1`… capture groups of the regex.
import { KubeMetadataError } from './errors.ts';
import type { ExtractRule } from './types.ts';

export interface CompiledRule {
  readonly from: ExtractRule['from'];
  readonly source: ExtractRule['source'];
  /** Exact key, when the rule has one. */
  readonly key: string | undefined;
  /** Attribute name for `key`, or undefined when the rule does not match it. */
  tagFor(key: string): string | undefined;
}

function defaultTag(from: string, source: string, key: string): string {
  return `k8s.${from}.${source === 'label' ? 'labels' : 'annotations'}.${key}`;
}

export function compileRules(rules: readonly ExtractRule[]): CompiledRule[] {
  return rules.map((r, i) => {
    const where = `extract rule #${i}`;
    if (r.from !== 'pod' && r.from !== 'namespace' && r.from !== 'node') {
      throw new KubeMetadataError('SEXTANT_KUBE_INVALID_RULE', `${where}: from is ${JSON.stringify(r.from)}; valid: "pod", "namespace", "node"`);
    }
    if (r.source !== 'label' && r.source !== 'annotation') {
      throw new KubeMetadataError('SEXTANT_KUBE_INVALID_RULE', `${where}: source is ${JSON.stringify(r.source)}; valid: "label", "annotation"`);
    }
    if ((r.key === undefined) === (r.keyRegex === undefined)) {
      throw new KubeMetadataError('SEXTANT_KUBE_INVALID_RULE', `${where}: set exactly one of key and keyRegex`);
    }
    if (r.key !== undefined) {
      const key = r.key;
      const tag = r.tagName ?? defaultTag(r.from, r.source, key);
      return { from: r.from, source: r.source, key, tagFor: (k: string) => (k === key ? tag : undefined) };
    }
    let re: RegExp;
    try {
      // Anchored to the whole key, as k8sattributes does since #9716.
      re = new RegExp(`^(?:${r.keyRegex ?? ''})$`);
    } catch (err) {
      throw new KubeMetadataError('SEXTANT_KUBE_INVALID_RULE', `${where}: keyRegex ${JSON.stringify(r.keyRegex)} is not a valid regular expression: ${(err as Error).message}`, { cause: err });
    }
    const tagName = r.tagName;
    const from = r.from;
    const source = r.source;
    return {
      from,
      source,
      key: undefined,
      tagFor: (k: string) => {
        if (!re.test(k)) return undefined;
        return tagName === undefined ? defaultTag(from, source, k) : k.replace(re, tagName);
      },
    };
  });
}

/** Applies the rules for one (from, source) to a label/annotation map, adding [tag, value] pairs. */
export function applyRules(rules: readonly CompiledRule[], from: ExtractRule['from'], source: ExtractRule['source'], map: Readonly<Record<string, string>> | undefined, out: Map<string, string>): void {
  if (map === undefined) return;
  for (const r of rules) {
    if (r.from !== from || r.source !== source) continue;
    if (r.key !== undefined) {
      const v = map[r.key];
      const tag = r.tagFor(r.key);
      if (v !== undefined && tag !== undefined) out.set(tag, v);
      continue;
    }
    for (const k in map) {
      const tag = r.tagFor(k);
      const v = map[k];
      if (tag !== undefined && v !== undefined) out.set(tag, v);
    }
  }
}

/** Whether any rule for (from, source) would read `key`; used to trim what the cache keeps. */
export function rulesNeed(rules: readonly CompiledRule[], from: ExtractRule['from'], source: ExtractRule['source'], key: string): boolean {
  for (const r of rules) if (r.from === from && r.source === source && r.tagFor(key) !== undefined) return true;
  return false;
}
