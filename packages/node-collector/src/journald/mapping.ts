// Journal entry → OTLP log record fields.
//
// Severity: PRIORITY is a syslog severity (0 emerg … 7 debug). It maps as the OTel Logs Data Model's
// "Appendix B: SeverityNumber example mappings" (specification/logs/data-model-appendix.md) maps Syslog:
// Emergency FATAL, Alert ERROR3, Critical ERROR2, Error ERROR, Warning WARN, Notice INFO2, Informational INFO,
// Debug DEBUG. severityText is the syslog keyword (emerg, alert, crit, err, warning, notice, info, debug).
//
// Body: MESSAGE, as string_value when it is valid UTF-8, else as bytes_value (journald allows binary MESSAGE).
// Attributes: every other field, named `journald.<FIELD>`, except these which take a semconv-style name:
// _SYSTEMD_UNIT → systemd.unit, SYSLOG_IDENTIFIER → syslog.identifier, _PID → process.pid (int),
// _UID → process.user.id (int), _COMM → process.executable.name, _EXE → process.executable.path,
// _CMDLINE → process.command_line, _HOSTNAME → host.name, _MACHINE_ID → host.id.
// PRIORITY is left out when it is 0–7 (it is the severity). Values that are not UTF-8 are bytes values; a field
// that repeats is an array of its values. `journald.cursor` carries the entry's cursor (usable for dedup).
import { isUtf8 } from 'node:buffer';
import type { AnyValue, KeyValue } from '@sextant/otlp';
import type { JournalEntry } from './file.ts';

const SEVERITY_NUMBER = [21, 19, 18, 17, 13, 10, 9, 5] as const;
const SEVERITY_TEXT = ['emerg', 'alert', 'crit', 'err', 'warning', 'notice', 'info', 'debug'] as const;

const RENAMED: Record<string, { key: string; int?: boolean }> = {
  _SYSTEMD_UNIT: { key: 'systemd.unit' },
  SYSLOG_IDENTIFIER: { key: 'syslog.identifier' },
  _PID: { key: 'process.pid', int: true },
  _UID: { key: 'process.user.id', int: true },
  _COMM: { key: 'process.executable.name' },
  _EXE: { key: 'process.executable.path' },
  _CMDLINE: { key: 'process.command_line' },
  _HOSTNAME: { key: 'host.name' },
  _MACHINE_ID: { key: 'host.id' },
};

interface MappedRecord {
  timeUnixNano: bigint;
  observedTimeUnixNano: bigint;
  severityNumber?: number;
  severityText?: string;
  body: Uint8Array | { bytes: Uint8Array };
  attributes: KeyValue[];
}

/** Severity number and text for a PRIORITY value, or undefined if it is not 0–7. */
function mapPriority(p: Buffer | undefined): { number: number; text: string } | undefined {
  if (p === undefined || p.length !== 1) return undefined;
  const n = (p[0] ?? 0) - 0x30;
  const num = SEVERITY_NUMBER[n];
  const text = SEVERITY_TEXT[n];
  return num === undefined || text === undefined ? undefined : { number: num, text };
}

function value(b: Buffer, int: boolean): AnyValue {
  if (int && b.length > 0 && b.length < 16 && /^\d+$/.test(b.toString('latin1'))) return BigInt(b.toString('latin1'));
  return isUtf8(b) ? b.toString('utf8') : new Uint8Array(b);
}

function attributeName(field: string): { key: string; int: boolean } {
  const r = RENAMED[field];
  return r === undefined ? { key: `journald.${field}`, int: false } : { key: r.key, int: r.int === true };
}

function mapEntry(e: JournalEntry): MappedRecord {
  const attributes: KeyValue[] = [];
  const sev = mapPriority(e.fields.get('PRIORITY'));
  for (const [field, v] of e.fields) {
    if (field === 'MESSAGE' || (field === 'PRIORITY' && sev !== undefined)) continue;
    const { key, int } = attributeName(field);
    const more = e.repeated?.get(field);
    attributes.push({ key, value: more === undefined ? value(v, int) : [v, ...more].map((x) => value(x, int)) });
  }
  attributes.push({ key: 'journald.cursor', value: e.cursor });
  const msg = e.fields.get('MESSAGE') ?? Buffer.alloc(0);
  let time = e.realtime;
  const src = e.fields.get('_SOURCE_REALTIME_TIMESTAMP');
  if (src !== undefined && src.length > 0 && src.length < 20 && /^\d+$/.test(src.toString('latin1'))) time = BigInt(src.toString('latin1'));
  const r: MappedRecord = {
    timeUnixNano: time * 1000n,
    observedTimeUnixNano: e.realtime * 1000n,
    body: isUtf8(msg) ? msg : { bytes: msg },
    attributes,
  };
  if (sev !== undefined) {
    r.severityNumber = sev.number;
    r.severityText = sev.text;
  }
  return r;
}

export { mapEntry, mapPriority, attributeName };
export type { MappedRecord };
