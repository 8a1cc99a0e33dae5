// Pod log paths: <root>/<namespace>_<pod>_<uid>/<container>/<restart>.log, plus kubelet's rotated siblings
// <restart>.log.<YYYYMMDD-hhmmss>. Compressed rotations (.gz, .gz.tmp) are never read.
import { collectorError } from './errors.ts';
import type { Selector } from './config.ts';

interface PodDir {
  namespace: string;
  pod: string;
  uid: string;
}

interface LogName {
  restart: number;
  rotated: boolean;
}

function parsePodDir(name: string): PodDir | undefined {
  const parts = name.split('_');
  if (parts.length !== 3) return undefined;
  const [namespace, pod, uid] = parts as [string, string, string];
  if (namespace === '' || pod === '' || uid === '') return undefined;
  return { namespace, pod, uid };
}

const LOG_NAME = /^(\d+)\.log(\.\d{8}-\d{6}(?:\.\d+)?)?$/;

function parseLogName(name: string): LogName | undefined {
  const m = LOG_NAME.exec(name);
  if (m === null) return undefined;
  return { restart: Number(m[1]), rotated: m[2] !== undefined };
}

type Matcher = (s: string) => boolean;

function compilePattern(p: string): Matcher {
  if (p.length >= 2 && p.startsWith('/') && p.endsWith('/')) {
    let re: RegExp;
    try {
      re = new RegExp(p.slice(1, -1));
    } catch (e) {
      throw collectorError('SEXTANT_COLLECTOR_PATTERN_INVALID', `${p} (${String(e)})`, e);
    }
    return (s) => re.test(s);
  }
  const re = new RegExp(`^${p.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`);
  return (s) => re.test(s);
}

interface CompiledSelector {
  namespace: Matcher | undefined;
  pod: Matcher | undefined;
  container: Matcher | undefined;
}

function compileSelector(s: Selector): CompiledSelector {
  return {
    namespace: s.namespace !== undefined ? compilePattern(s.namespace) : undefined,
    pod: s.pod !== undefined ? compilePattern(s.pod) : undefined,
    container: s.container !== undefined ? compilePattern(s.container) : undefined,
  };
}

function selectorMatches(s: CompiledSelector, pod: PodDir, container: string | undefined): boolean {
  if (s.namespace !== undefined && !s.namespace(pod.namespace)) return false;
  if (s.pod !== undefined && !s.pod(pod.pod)) return false;
  if (container !== undefined && s.container !== undefined && !s.container(container)) return false;
  return true;
}

/** Decides which pods/containers are collected. With `container` undefined it answers whether the pod may have any. */
function createFilter(include: Selector[], exclude: Selector[]): (pod: PodDir, container?: string) => boolean {
  const inc = include.map(compileSelector);
  const exc = exclude.map(compileSelector);
  return (pod, container) => {
    if (inc.length > 0 && !inc.some((s) => selectorMatches(s, pod, container))) return false;
    // a pod-level exclude (no container pattern) excludes the whole pod; container-level ones need the container
    return !exc.some((s) => (container === undefined ? s.container === undefined : true) && selectorMatches(s, pod, container));
  };
}

export { parsePodDir, parseLogName, createFilter, compileSelector, selectorMatches };
export type { PodDir, LogName, CompiledSelector };
