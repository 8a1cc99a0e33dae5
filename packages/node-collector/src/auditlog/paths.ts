// Names of an audit log file and its rotations. The API server rotates --audit-log-path with lumberjack
// (--audit-log-maxsize/--audit-log-maxbackup): audit.log is renamed to audit-<2006-01-02T15-04-05.000>.log
// and a new audit.log is opened; --audit-log-compress gzips backups (.gz is never read).
import { basename, dirname, extname } from 'node:path';

interface AuditPathSpec {
  /** The configured path. */
  path: string;
  dir: string;
  /** Matches a file name of this path: `rotated` for a backup. */
  match(name: string): { rotated: boolean } | undefined;
}

const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

function auditPathSpec(path: string): AuditPathSpec {
  const base = basename(path);
  const ext = extname(base);
  const stem = base.slice(0, base.length - ext.length);
  const backup = new RegExp(`^${escape(stem)}-\\d{4}-\\d\\d-\\d\\dT\\d\\d-\\d\\d-\\d\\d\\.\\d{3}${escape(ext)}$`);
  return {
    path,
    dir: dirname(path),
    match(name: string) {
      if (name === base) return { rotated: false };
      if (backup.test(name)) return { rotated: true };
      return undefined;
    },
  };
}

export { auditPathSpec };
export type { AuditPathSpec };
