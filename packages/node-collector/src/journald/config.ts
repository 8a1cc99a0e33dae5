// The `journald` section of the node-collector config (issue 10 part 3); resolveConfig in ../config.ts calls this.
// An absent section (or `false`) reads no journal; `true` or an object turns the source on.
import { collectorError } from '../errors.ts';
import { sectionStartAt, sourceSection } from '../source-section.ts';

interface JournaldConfig {
  /** Default true once the section is present. */
  enabled?: boolean;
  /** Journal directories (read-only hostPath mounts in the chart). Default `['/var/log/journal', '/run/log/journal']`. */
  dirs?: string[];
  /** `_SYSTEMD_UNIT` names or globs (`*`, `?`). With include, entries without a unit (kernel) are left out. Default: all. */
  units?: { include?: string[]; exclude?: string[] };
  /** Files present at the first start, without a checkpoint: `beginning` (default) or `end`. */
  startAt?: 'beginning' | 'end';
  /** Headers of open journal files are re-read this often besides inotify events. Default 1000. */
  pollIntervalMs?: number;
  /** The directories are listed again this often besides inotify events. Default 10000. */
  rescanIntervalMs?: number;
  /** A field (or entry) larger than this is skipped and counted. Default 16 MiB. */
  maxFieldBytes?: number;
  batch?: {
    /** Default 1000. */ maxRecords?: number;
    /** Encoded bytes; default 1 MiB. */ maxBytes?: number;
    /** Default 200. */ maxAgeMs?: number;
  };
  /** Reading pauses while this many batches wait for their ack. Default 4. */
  maxInflightBatches?: number;
}

interface ResolvedJournaldConfig {
  dirs: string[];
  units: { include: string[]; exclude: string[] };
  startAt: 'beginning' | 'end';
  pollIntervalMs: number;
  rescanIntervalMs: number;
  maxFieldBytes: number;
  batch: { maxRecords: number; maxBytes: number; maxAgeMs: number };
  maxInflightBatches: number;
}

const KEYS = ['enabled', 'dirs', 'units', 'startAt', 'pollIntervalMs', 'rescanIntervalMs', 'maxFieldBytes', 'batch', 'maxInflightBatches'];

function bad(key: string, value: unknown, valid: string): never {
  throw collectorError('SEXTANT_COLLECTOR_CONFIG_INVALID', `journald.${key}=${JSON.stringify(value)}; valid: ${valid}`);
}

function num(key: string, v: unknown, def: number, min: number): number {
  if (v === undefined) return def;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) bad(key, v, `an integer >= ${min}`);
  return v;
}

function strings(key: string, v: unknown, def: string[]): string[] {
  if (v === undefined) return def;
  if (!Array.isArray(v) || v.some((s) => typeof s !== 'string' || s === '')) bad(key, v, 'a list of non-empty strings');
  return v as string[];
}

/** Validates the section (keys already camelCased); false when the source is off. */
function resolveJournaldConfig(v: unknown): ResolvedJournaldConfig | false {
  const o = sourceSection(v, KEYS, bad);
  if (o === false) return false;
  const startAt = sectionStartAt(o, bad);
  const units = (o['units'] ?? {}) as Record<string, unknown>;
  if (typeof units !== 'object' || units === null || Array.isArray(units)) bad('units', units, '{include?, exclude?}');
  for (const k of Object.keys(units)) if (k !== 'include' && k !== 'exclude') bad(`units.${k}`, units[k], 'include, exclude');
  const batch = (o['batch'] ?? {}) as Record<string, unknown>;
  if (typeof batch !== 'object' || batch === null || Array.isArray(batch)) bad('batch', batch, '{maxRecords?, maxBytes?, maxAgeMs?}');
  const dirs = strings('dirs', o['dirs'], ['/var/log/journal', '/run/log/journal']);
  if (dirs.length === 0) bad('dirs', dirs, 'at least one directory');
  return {
    dirs,
    units: { include: strings('units.include', units['include'], []), exclude: strings('units.exclude', units['exclude'], []) },
    startAt,
    pollIntervalMs: num('pollIntervalMs', o['pollIntervalMs'], 1000, 10),
    rescanIntervalMs: num('rescanIntervalMs', o['rescanIntervalMs'], 10000, 10),
    maxFieldBytes: num('maxFieldBytes', o['maxFieldBytes'], 16 << 20, 1024),
    batch: {
      maxRecords: num('batch.maxRecords', batch['maxRecords'], 1000, 1),
      maxBytes: num('batch.maxBytes', batch['maxBytes'], 1 << 20, 1024),
      maxAgeMs: num('batch.maxAgeMs', batch['maxAgeMs'], 200, 1),
    },
    maxInflightBatches: num('maxInflightBatches', o['maxInflightBatches'], 4, 1),
  };
}

export { resolveJournaldConfig };
export type { JournaldConfig, ResolvedJournaldConfig };
