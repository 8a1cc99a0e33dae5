// The `auditLog` section of the node-collector config (issue 10 part 2): API-server audit log files
// (--audit-log-path, JSON lines) on control-plane nodes; resolveConfig in ../config.ts calls this.
// An absent section (or `false`) reads nothing; `true` or an object turns the source on.
import { collectorError } from '../errors.ts';
import { sectionStartAt, sourceSection } from '../source-section.ts';

interface AuditLogConfig {
  /** Default true once the section is present. */
  enabled?: boolean;
  /**
   * The API server's --audit-log-path values (absolute). Each directory is watched for the file and for
   * its rotations `<name>-<timestamp><ext>`. Default `['/var/log/kubernetes/audit/audit.log']`.
   */
  paths?: string[];
  /** Files present at the first start, without a checkpoint: `beginning` (default) or `end`. */
  startAt?: 'beginning' | 'end';
  /** A longer line is skipped and counted (`bad_lines_total{reason="too_large"}`). Default 16 MiB. */
  maxLineBytes?: number;
}

interface ResolvedAuditLogConfig {
  paths: string[];
  startAt: 'beginning' | 'end';
  maxLineBytes: number;
}

const KEYS = ['enabled', 'paths', 'startAt', 'maxLineBytes'];
const DEFAULT_PATH = '/var/log/kubernetes/audit/audit.log';

function bad(key: string, value: unknown, valid: string): never {
  throw collectorError('SEXTANT_COLLECTOR_CONFIG_INVALID', `auditLog${key === '' ? '' : `.${key}`}=${JSON.stringify(value)}; valid: ${valid}`);
}

/** Validates the section (keys already camelCased); false when the source is off. */
function resolveAuditLogConfig(v: unknown): ResolvedAuditLogConfig | false {
  if (v === null) return false; // `auditLog:` with no value
  const o = sourceSection(v, KEYS, bad);
  if (o === false) return false;
  const startAt = sectionStartAt(o, bad);
  const paths = o['paths'] ?? [DEFAULT_PATH];
  if (!Array.isArray(paths) || paths.length === 0) bad('paths', paths, 'a non-empty list of absolute file paths');
  const seen = new Set<string>();
  paths.forEach((p: unknown, i) => {
    if (typeof p !== 'string' || !p.startsWith('/') || p.endsWith('/') || p.endsWith('.gz')) bad(`paths[${i}]`, p, 'an absolute path of a file (not a directory, not .gz), e.g. /var/log/kubernetes/audit/audit.log');
    if (seen.has(p)) bad(`paths[${i}]`, p, 'each path once');
    seen.add(p);
  });
  const maxLineBytes = o['maxLineBytes'] ?? 16 << 20;
  if (typeof maxLineBytes !== 'number' || !Number.isInteger(maxLineBytes) || maxLineBytes < 1024) bad('maxLineBytes', maxLineBytes, 'an integer >= 1024');
  return { paths: paths as string[], startAt, maxLineBytes };
}

export { resolveAuditLogConfig };
export type { AuditLogConfig, ResolvedAuditLogConfig };
