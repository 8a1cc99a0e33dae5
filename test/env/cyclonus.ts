// NetworkPolicy verdicts from Cyclonus (`analyze --mode query-traffic`). This module only
// prepares Cyclonus's input and reads its answer table; it never evaluates a policy itself.
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { extname, join } from 'node:path';
import { promisify } from 'node:util';
import { parseAllDocuments } from 'yaml';
import { ensureTool } from './tools.ts';

const execFileP = promisify(execFile);

export interface PodPeer {
  readonly namespace: string;
  readonly namespaceLabels: Readonly<Record<string, string>>;
  readonly podLabels: Readonly<Record<string, string>>;
  /** The pod's IP, matched against ipBlock rules. Default: a distinct address in 10.244.0.0/16. */
  readonly ip?: string;
}

/** A peer outside the cluster's pods, e.g. the API server or a backend, matched by ipBlock only. */
export interface ExternalPeer {
  readonly ip: string;
}

export interface Connection {
  /** Echoed back in the verdict, for readable assertions. */
  readonly name?: string;
  readonly source: PodPeer | ExternalPeer;
  readonly destination: PodPeer | ExternalPeer;
  readonly port: number;
  /** The destination container port's name, for policies that name ports. */
  readonly portName?: string;
  readonly protocol: 'TCP' | 'UDP' | 'SCTP';
}

export interface AnalyzeOptions {
  /** A directory of NetworkPolicy YAML/JSON files (multi-document files and Lists are fine). */
  readonly policyDir?: string;
  /** NetworkPolicy objects, or YAML texts holding one or more of them. */
  readonly policies?: readonly (object | string)[];
  readonly connections: readonly Connection[];
}

export interface Verdict {
  readonly name: string | undefined;
  /** Both directions allow it. */
  readonly allowed: boolean;
  /** The destination's ingress policies allow it (true when none select the destination). */
  readonly ingress: boolean;
  /** The source's egress policies allow it (true when none select the source). */
  readonly egress: boolean;
}

function isPod(p: PodPeer | ExternalPeer): p is PodPeer {
  return 'namespace' in p;
}

async function collectPolicies(opts: AnalyzeOptions): Promise<unknown[]> {
  const texts: string[] = [];
  const objects: unknown[] = [];
  if (opts.policyDir !== undefined) {
    const walk = async (dir: string): Promise<void> => {
      for (const entry of (await readdir(dir)).sort()) {
        const p = join(dir, entry);
        if ((await stat(p)).isDirectory()) await walk(p);
        else if (['.yaml', '.yml', '.json'].includes(extname(p))) texts.push(await readFile(p, 'utf8'));
      }
    };
    await walk(opts.policyDir);
  }
  for (const p of opts.policies ?? []) {
    if (typeof p === 'string') texts.push(p);
    else objects.push(p);
  }
  for (const text of texts) {
    for (const doc of parseAllDocuments(text)) {
      if (doc.errors.length > 0) throw new Error(`analyzeNetworkPolicies: bad YAML: ${doc.errors[0]?.message ?? ''}`);
      const value: unknown = doc.toJS();
      if (value !== null && value !== undefined) objects.push(value);
    }
  }
  // Cyclonus reads one NetworkPolicy (or one NetworkPolicyList) per file; unroll Lists.
  const out: unknown[] = [];
  for (const o of objects) {
    const kind = (o as { kind?: string }).kind;
    if (kind === 'NetworkPolicyList' || kind === 'List') out.push(...((o as { items?: unknown[] }).items ?? []));
    else out.push(o);
  }
  return out.filter((o) => (o as { kind?: string }).kind === 'NetworkPolicy');
}

interface TableRow {
  cells: string[];
}

/** Rows of an ASCII table: cell texts joined across the lines of a multi-line row. */
function tableRows(lines: readonly string[]): TableRow[] {
  const rows: TableRow[] = [];
  let current: string[][] | undefined;
  for (const line of lines) {
    if (line.startsWith('+')) {
      if (current) rows.push({ cells: current.map((parts) => parts.join(' ').trim()) });
      current = undefined;
      continue;
    }
    if (!line.startsWith('|')) continue;
    const cells = line.split('|').slice(1, -1);
    if (!current) current = cells.map(() => []);
    cells.forEach((c, i) => current?.[i]?.push(c.trim()));
  }
  if (current) rows.push({ cells: current.map((parts) => parts.join(' ').trim()) });
  return rows;
}

/**
 * Reads one "Is traffic allowed?" table. Rows are (Type, Action, Target) with merged cells
 * left blank; an all-blank row separates Ingress from Egress; the footer is "IS ALLOWED?".
 * A direction is allowed when some target allows it or no target denies it (Cyclonus's rule,
 * read back from its own rows so the overall answer can be cross-checked).
 */
export function parseVerdictTable(text: string): { ingress: boolean; egress: boolean; allowed: boolean } {
  const seen = new Set<string>();
  let type = '';
  let action = '';
  let allowed: boolean | undefined;
  for (const { cells } of tableRows(text.split('\n'))) {
    const [t = '', a = ''] = cells;
    if (/^is allowed\?$/i.test(t)) {
      allowed = /^true$/i.test(a);
      continue;
    }
    if (/^type$/i.test(t)) continue;
    if (cells.every((c) => c === '')) {
      type = '';
      action = '';
      continue;
    }
    if (t !== '') {
      type = t;
      action = '';
    }
    if (a !== '') action = a;
    if (type !== '' && action !== '') seen.add(`${type.toLowerCase()}/${action.toLowerCase()}`);
  }
  if (allowed === undefined) throw new Error(`analyzeNetworkPolicies: no "IS ALLOWED?" footer in Cyclonus output:\n${text}`);
  const dir = (d: string): boolean => seen.has(`${d}/allow`) || !seen.has(`${d}/deny`);
  const ingress = dir('ingress');
  const egress = dir('egress');
  if ((ingress && egress) !== allowed) {
    throw new Error(`analyzeNetworkPolicies: could not read Cyclonus's table consistently (ingress ${ingress}, egress ${egress}, overall ${allowed}):\n${text}`);
  }
  return { ingress, egress, allowed };
}

/** Asks Cyclonus whether each connection is allowed by the given NetworkPolicies. */
export async function analyzeNetworkPolicies(opts: AnalyzeOptions): Promise<Verdict[]> {
  if (opts.policyDir === undefined && opts.policies === undefined) throw new Error('analyzeNetworkPolicies: give policyDir or policies');
  const cyclonus = await ensureTool('cyclonus');
  const dir = await mkdtemp(join(tmpdir(), 'sextant-cyclonus-'));
  try {
    const policyDir = join(dir, 'policies');
    await mkdir(policyDir);
    const policies = await collectPolicies(opts);
    await Promise.all(policies.map((p, i) => writeFile(join(policyDir, `${String(i).padStart(4, '0')}.json`), JSON.stringify(p))));
    let ipCounter = 0;
    const peer = (p: PodPeer | ExternalPeer): object => {
      if (!isPod(p)) return { IP: p.ip };
      ipCounter += 1;
      return {
        Internal: { PodLabels: p.podLabels, NamespaceLabels: p.namespaceLabels, Namespace: p.namespace },
        IP: p.ip ?? `10.244.${Math.floor(ipCounter / 250)}.${(ipCounter % 250) + 2}`,
      };
    };
    const traffic = opts.connections.map((c) => ({
      Source: peer(c.source),
      Destination: peer(c.destination),
      Protocol: c.protocol,
      ResolvedPort: c.port,
      ResolvedPortName: c.portName ?? '',
    }));
    const trafficPath = join(dir, 'traffic.json');
    await writeFile(trafficPath, JSON.stringify(traffic, null, 2));
    let stdout: string;
    try {
      ({ stdout } = await execFileP(cyclonus.path, ['analyze', '--mode', 'query-traffic', '--policy-path', policyDir, '--traffic-path', trafficPath], {
        maxBuffer: 64 * 1024 * 1024,
      }));
    } catch (err) {
      const e = err as Error & { stderr?: string; stdout?: string };
      throw new Error(`analyzeNetworkPolicies: cyclonus failed: ${e.message}\n${e.stderr ?? ''}`, { cause: err });
    }
    const blocks = stdout.split(/^Is traffic allowed\?$/m).slice(1);
    if (blocks.length !== opts.connections.length) {
      throw new Error(`analyzeNetworkPolicies: expected ${opts.connections.length} answers from Cyclonus, got ${blocks.length}:\n${stdout}`);
    }
    return blocks.map((block, i) => {
      // The answer table ends at the next "Traffic:" heading (or the end of output).
      const table = block.split(/^Traffic:$/m)[0] ?? '';
      return { name: opts.connections[i]?.name, ...parseVerdictTable(table) };
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
