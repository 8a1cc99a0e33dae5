// Typed configuration: one declarative schema gives the parser, the defaults, the env names and the docs.
// Precedence, highest first: `overrides` (code) → environment → YAML file → schema defaults.
//
// Environment rule: SEXTANT_ + the key path, each segment camelCase → UPPER_SNAKE, segments joined by `__`.
//   queue.maxBytes          → SEXTANT_QUEUE__MAX_BYTES=2Gi
//   exporter.protocol       → SEXTANT_EXPORTER__PROTOCOL=otlp_http
//   exporter.headers (map)  → SEXTANT_EXPORTER__HEADERS='{"X-Tenant":"a"}' (JSON) or X-Tenant=a,X-Env=prod
//   a list                  → JSON (`["a","b"]`) or comma-separated (`a,b`)
// Only keys in the schema are looked up, so the rule is unambiguous.
//
// Hand-written rather than zod/typebox: env values need per-type coercion driven by the schema, the
// messages must read `path: "value" is not … (valid: …)`, and the docs need env names; that is ~300
// lines here against adapters around a general schema library.

import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { SextantError } from './errors.ts';

export interface FieldInfo {
  /** Type as written in the docs, e.g. `byte size`, `otlp_grpc \| otlp_http`. */
  type: string;
  description: string;
  /** Default as written in the docs (the raw, unparsed form). */
  defaultText: string | undefined;
  secret: boolean;
}

export interface Field<T> {
  readonly kind: 'leaf' | 'object';
  readonly info: FieldInfo;
  /** Parses a raw value (from YAML, env string or code); returns issues instead of throwing. */
  parse(raw: unknown, path: string, fromEnv: boolean): { ok: true; value: T } | { ok: false; issues: string[] };
  /** Value when nothing was given. */
  readonly defaultValue: () => { ok: true; value: T } | { ok: false; issues: string[] };
}

export interface ObjectField<S extends Shape> extends Field<InferShape<S>> {
  readonly kind: 'object';
  readonly shape: S;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Shape = Record<string, Field<any>>;
export type Infer<F> = F extends Field<infer T> ? T : never;
type InferShape<S extends Shape> = { [K in keyof S]: Infer<S[K]> };

interface LeafOptions<T> {
  description?: string;
  /** Raw default, parsed like user input (so `'512Mi'` for a byte size). Omitted: the key is required. */
  default?: T | string | number | boolean;
  optional?: boolean;
}

type Parser<T> = (raw: unknown, fromEnv: boolean) => { value: T } | { error: string };

const show = (v: unknown): string => (typeof v === 'string' ? JSON.stringify(v) : JSON.stringify(v) ?? String(v));

function leaf<T>(type: string, parser: Parser<T>, opts: LeafOptions<T>, secret = false): Field<T> {
  const parse = (raw: unknown, path: string, fromEnv: boolean): { ok: true; value: T } | { ok: false; issues: string[] } => {
    const r = parser(raw, fromEnv);
    if ('error' in r) return { ok: false, issues: [`${path}: ${secret ? '(secret value)' : show(raw)} ${r.error}`] };
    return { ok: true, value: r.value };
  };
  return {
    kind: 'leaf',
    info: {
      type,
      description: opts.description ?? '',
      defaultText: opts.default === undefined ? (opts.optional === true ? undefined : '(required)') : typeof opts.default === 'object' ? JSON.stringify(opts.default) : String(opts.default),
      secret,
    },
    parse,
    defaultValue: () => {
      if (opts.default !== undefined) return parse(opts.default, '(default)', false);
      if (opts.optional === true) return { ok: true, value: undefined as T };
      return { ok: false, issues: [] }; // reported by the object with the key path
    },
  };
}

// ---- value parsers -------------------------------------------------------------------------

const byteUnits: Record<string, number> = {
  '': 1, b: 1, k: 1e3, kb: 1e3, ki: 1024, kib: 1024, m: 1e6, mb: 1e6, mi: 1024 ** 2, mib: 1024 ** 2,
  g: 1e9, gb: 1e9, gi: 1024 ** 3, gib: 1024 ** 3, t: 1e12, tb: 1e12, ti: 1024 ** 4, tib: 1024 ** 4,
};

/** `512Mi` → 536870912. Accepts a plain number of bytes and the units B, K/KB, Ki/KiB … T/TB, Ti/TiB. */
export function parseBytes(text: string | number): number | undefined {
  if (typeof text === 'number') return Number.isSafeInteger(text) && text >= 0 ? text : undefined;
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(text);
  const unit = byteUnits[(m?.[2] ?? '').toLowerCase()];
  if (m?.[1] === undefined || unit === undefined) return undefined;
  const n = Math.floor(Number(m[1]) * unit);
  return Number.isSafeInteger(n) ? n : undefined;
}

const durationUnits: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `250ms`, `5s`, `1m30s`, `2h` → milliseconds. A bare number (or numeric string) is milliseconds. */
export function parseDuration(text: string | number): number | undefined {
  if (typeof text === 'number') return Number.isFinite(text) && text >= 0 ? text : undefined;
  const s = text.trim();
  if (/^\d+(\.\d+)?$/.test(s)) return Number(s);
  if (!/^(\d+(\.\d+)?(ms|s|m|h|d))+$/.test(s)) return undefined;
  let total = 0;
  for (const m of s.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h|d)/g)) total += Number(m[1]) * (durationUnits[m[2] ?? ''] ?? NaN);
  return Number.isFinite(total) ? total : undefined;
}

/** A secret given inline, read from a file (Secret volume) or from an env variable; see secrets.ts. */
export type SecretSource = string | { fromFile: string } | { fromEnv: string };

function parseSecret(raw: unknown): { value: SecretSource } | { error: string } {
  if (typeof raw === 'string') {
    if (raw.startsWith('file:')) return { value: { fromFile: raw.slice(5) } };
    if (raw.startsWith('env:')) return { value: { fromEnv: raw.slice(4) } };
    return { value: raw };
  }
  if (raw !== null && typeof raw === 'object') {
    const o = raw as Record<string, unknown>;
    if (typeof o.fromFile === 'string' && Object.keys(o).length === 1) return { value: { fromFile: o.fromFile } };
    if (typeof o.fromEnv === 'string' && Object.keys(o).length === 1) return { value: { fromEnv: o.fromEnv } };
  }
  return { error: 'is not a secret (a string, "file:/path", "env:NAME", { fromFile: path } or { fromEnv: NAME })' };
}

function splitList(raw: unknown, fromEnv: boolean): unknown {
  if (!fromEnv || typeof raw !== 'string') return raw;
  const s = raw.trim();
  if (s.startsWith('[') || s.startsWith('{')) {
    try {
      return JSON.parse(s) as unknown;
    } catch {
      return raw;
    }
  }
  return s === '' ? [] : s.split(',').map((x) => x.trim());
}

/** Schema builders. Every builder takes `{ description, default, optional }`. */
export const s = {
  string(opts: LeafOptions<string> & { pattern?: RegExp; patternText?: string } = {}): Field<string> {
    return leaf('string', (raw) => {
      if (typeof raw !== 'string') return { error: 'is not a string' };
      if (opts.pattern !== undefined && !opts.pattern.test(raw)) return { error: `does not match ${opts.patternText ?? String(opts.pattern)}` };
      return { value: raw };
    }, opts);
  },
  optionalString(opts: Omit<LeafOptions<string>, 'optional'> = {}): Field<string | undefined> {
    return leaf<string | undefined>('string', (raw) => (typeof raw === 'string' ? { value: raw } : { error: 'is not a string' }), { ...opts, optional: true });
  },
  number(opts: LeafOptions<number> & { min?: number; max?: number; integer?: boolean } = {}): Field<number> {
    const range = `${opts.integer === true ? 'an integer' : 'a number'}${opts.min !== undefined ? ` >= ${opts.min}` : ''}${opts.max !== undefined ? ` <= ${opts.max}` : ''}`;
    return leaf(opts.integer === true ? 'integer' : 'number', (raw) => {
      const n = typeof raw === 'number' ? raw : typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : NaN;
      if (!Number.isFinite(n) || (opts.integer === true && !Number.isInteger(n)) ||
        (opts.min !== undefined && n < opts.min) || (opts.max !== undefined && n > opts.max)) return { error: `is not ${range}` };
      return { value: n };
    }, opts);
  },
  boolean(opts: LeafOptions<boolean> = {}): Field<boolean> {
    return leaf('boolean', (raw) => {
      if (typeof raw === 'boolean') return { value: raw };
      if (raw === 'true' || raw === '1') return { value: true };
      if (raw === 'false' || raw === '0') return { value: false };
      return { error: 'is not a boolean (true, false)' };
    }, opts);
  },
  enum<const V extends readonly string[]>(values: V, opts: LeafOptions<V[number]> = {}): Field<V[number]> {
    return leaf(values.join(' \\| '), (raw) =>
      typeof raw === 'string' && values.includes(raw) ? { value: raw } : { error: `is not one of ${values.join(', ')}` }, opts);
  },
  /** Byte size: `512Mi`, `2Gi`, `100MB` or a number of bytes; parsed to a number. */
  bytes(opts: LeafOptions<number> & { min?: number; max?: number } = {}): Field<number> {
    return leaf('byte size', (raw) => {
      const n = typeof raw === 'string' || typeof raw === 'number' ? parseBytes(raw) : undefined;
      if (n === undefined) return { error: 'is not a byte size (e.g. 512Mi, 2Gi)' };
      if (opts.min !== undefined && n < opts.min) return { error: `is below the minimum of ${opts.min} bytes` };
      if (opts.max !== undefined && n > opts.max) return { error: `is above the maximum of ${opts.max} bytes` };
      return { value: n };
    }, opts);
  },
  /** Duration: `250ms`, `5s`, `1m30s`; parsed to milliseconds. */
  duration(opts: LeafOptions<number> & { min?: number; max?: number } = {}): Field<number> {
    return leaf('duration', (raw) => {
      const n = typeof raw === 'string' || typeof raw === 'number' ? parseDuration(raw) : undefined;
      if (n === undefined) return { error: 'is not a duration (e.g. 250ms, 5s, 1m)' };
      if (opts.min !== undefined && n < opts.min) return { error: `is below the minimum of ${opts.min} ms` };
      if (opts.max !== undefined && n > opts.max) return { error: `is above the maximum of ${opts.max} ms` };
      return { value: n };
    }, opts);
  },
  /** A secret (token, password, header value); never printed in errors or docs defaults. */
  secret(opts: Omit<LeafOptions<SecretSource>, 'default'> = {}): Field<SecretSource | undefined> {
    return leaf<SecretSource | undefined>('secret', (raw) => parseSecret(raw), { ...opts, optional: true }, true);
  },
  list<T>(item: Field<T>, opts: LeafOptions<T[]> = {}): Field<T[]> {
    return leaf(`list of ${item.info.type}`, (raw, fromEnv) => {
      const v = splitList(raw, fromEnv);
      if (!Array.isArray(v)) return { error: `is not a list of ${item.info.type}` };
      const out: T[] = [];
      for (const [i, x] of v.entries()) {
        const r = item.parse(x, `[${i}]`, fromEnv);
        if (!r.ok) return { error: `has a bad element: ${r.issues.join('; ')}` };
        out.push(r.value);
      }
      return { value: out };
    }, opts);
  },
  /** A string-keyed map, e.g. headers: `{ X-Tenant: a, Authorization: { fromFile: /var/run/secrets/token } }`. */
  map<T>(value: Field<T>, opts: LeafOptions<Record<string, T>> = {}): Field<Record<string, T>> {
    return leaf(`map of ${value.info.type}`, (raw, fromEnv) => {
      let v = raw;
      if (fromEnv && typeof raw === 'string') {
        const parsed = splitList(raw, true);
        v = Array.isArray(parsed)
          ? Object.fromEntries(parsed.map((kv) => {
            const str = String(kv);
            const eq = str.indexOf('=');
            return eq < 0 ? [str, ''] : [str.slice(0, eq).trim(), str.slice(eq + 1).trim()];
          }))
          : parsed;
      }
      if (v === null || typeof v !== 'object' || Array.isArray(v)) return { error: 'is not a map (key: value)' };
      const out: Record<string, T> = {};
      for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
        const r = value.parse(x, k, fromEnv);
        if (!r.ok) return { error: `has a bad entry: ${r.issues.join('; ')}` };
        out[k] = r.value;
      }
      return { value: out };
    }, { ...opts, default: opts.default ?? {} }, value.info.secret);
  },
  object<S extends Shape>(shape: S, opts: { description?: string } = {}): ObjectField<S> {
    const parseObj = (raw: unknown, path: string, fromEnv: boolean): { ok: true; value: InferShape<S> } | { ok: false; issues: string[] } => {
      if (raw === undefined || raw === null) raw = {};
      if (typeof raw !== 'object' || Array.isArray(raw)) return { ok: false, issues: [`${path || '(root)'}: ${show(raw)} is not a mapping`] };
      const obj = raw as Record<string, unknown>;
      const issues: string[] = [];
      const out: Record<string, unknown> = {};
      for (const k of Object.keys(obj)) {
        if (!(k in shape)) {
          const near = nearest(k, Object.keys(shape));
          issues.push(`${join(path, k)}: unknown key${near === undefined ? '' : ` (did you mean ${join(path, near)}?)`}; valid keys: ${Object.keys(shape).join(', ')}`);
        }
      }
      for (const [k, f] of Object.entries(shape)) {
        const p = join(path, k);
        const r = obj[k] === undefined ? (f.kind === 'object' ? f.parse({}, p, fromEnv) : f.defaultValue()) : f.parse(obj[k], p, fromEnv);
        if (r.ok) out[k] = r.value;
        else issues.push(...(r.issues.length > 0 ? r.issues : [`${p}: is required (${f.info.type})`]));
      }
      return issues.length > 0 ? { ok: false, issues } : { ok: true, value: out as InferShape<S> };
    };
    return {
      kind: 'object',
      shape,
      info: { type: 'object', description: opts.description ?? '', defaultText: undefined, secret: false },
      parse: parseObj,
      defaultValue: () => parseObj({}, '', false),
    };
  },
};

const join = (path: string, k: string): string => (path === '' ? k : `${path}.${k}`);

function nearest(word: string, candidates: string[]): string | undefined {
  let best: string | undefined;
  let bestD = Math.max(2, Math.floor(word.length / 3)) + 1;
  for (const c of candidates) {
    const d = editDistance(word.toLowerCase(), c.toLowerCase());
    if (d < bestD) {
      bestD = d;
      best = c;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min((prev[j] ?? 0) + 1, (cur[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length] ?? 0;
}

/** Identity, for typing: `const schema = defineConfig({ queue: s.object({ … }) })`. */
export function defineConfig<S extends Shape>(shape: S, opts: { description?: string } = {}): ObjectField<S> {
  return s.object(shape, opts);
}

/** `queue.maxBytes` → `SEXTANT_QUEUE__MAX_BYTES`. */
export function envName(path: string, prefix = 'SEXTANT_'): string {
  return prefix + path.split('.').map((seg) => seg.replace(/([a-z0-9])([A-Z])/g, '$1_$2').replace(/[^A-Za-z0-9]/g, '_').toUpperCase()).join('__');
}

function* leaves(field: Field<unknown>, path: string): Generator<[string, Field<unknown>]> {
  if (field.kind === 'object') {
    for (const [k, f] of Object.entries((field as ObjectField<Shape>).shape)) yield* leaves(f as Field<unknown>, join(path, k));
  } else {
    yield [path, field];
  }
}

export interface LoadConfigOptions<S extends Shape> {
  schema: ObjectField<S>;
  /** YAML file; a missing file is an error (pass undefined to use none). */
  file?: string | undefined;
  /** Environment to read overrides from. Default process.env. */
  env?: Record<string, string | undefined>;
  /** Env prefix. Default `SEXTANT_`. */
  envPrefix?: string;
  /** Values set in code; highest precedence. Same shape as the YAML. */
  overrides?: Record<string, unknown>;
}

function setPath(target: Record<string, unknown>, path: string, value: unknown): void {
  const parts = path.split('.');
  let cur = target;
  for (const p of parts.slice(0, -1)) {
    const next = cur[p];
    if (next === null || typeof next !== 'object' || Array.isArray(next)) cur[p] = {};
    cur = cur[p] as Record<string, unknown>;
  }
  cur[parts.at(-1) ?? ''] = value;
}

function deepMerge(base: unknown, over: unknown): unknown {
  if (over === undefined) return base;
  if (base === null || typeof base !== 'object' || Array.isArray(base) || over === null || typeof over !== 'object' || Array.isArray(over)) return over;
  const out: Record<string, unknown> = { ...(base as Record<string, unknown>) };
  for (const [k, v] of Object.entries(over as Record<string, unknown>)) out[k] = deepMerge(out[k], v);
  return out;
}

/**
 * Reads the YAML file, applies env and overrides, fills defaults and validates, all in one pass.
 * Throws SextantError SEXTANT_CONFIG_INVALID listing every bad key (path, value, what is valid),
 * or SEXTANT_CONFIG_FILE_UNREADABLE.
 */
export function loadConfig<S extends Shape>(options: LoadConfigOptions<S>): InferShape<S> {
  let fromFile: unknown = {};
  if (options.file !== undefined) {
    let text: string;
    try {
      text = readFileSync(options.file, 'utf8');
    } catch (err) {
      throw new SextantError('SEXTANT_CONFIG_FILE_UNREADABLE', `cannot read config file ${options.file}: ${(err as Error).message}`, { cause: err });
    }
    try {
      fromFile = parseYaml(text) ?? {};
    } catch (err) {
      throw new SextantError('SEXTANT_CONFIG_FILE_UNREADABLE', `config file ${options.file} is not valid YAML: ${(err as Error).message}`, { cause: err });
    }
  }
  const env = options.env ?? process.env;
  const prefix = options.envPrefix ?? 'SEXTANT_';
  const issues: string[] = [];
  // Env values are parsed here (strings need coercion), then merged as parsed values.
  const fromEnv: Record<string, unknown> = {};
  for (const [path, f] of leaves(options.schema, '')) {
    const name = envName(path, prefix);
    const raw = env[name];
    if (raw === undefined) continue;
    const r = f.parse(raw, path, true);
    if (r.ok) setPath(fromEnv, path, r.value);
    else issues.push(...r.issues.map((i) => `${i} (from ${name})`));
  }
  // Parse the file first on its own, so file errors are reported even when env fixes them later.
  const merged = deepMerge(deepMerge(fromFile, fromEnv), options.overrides);
  const r = options.schema.parse(merged, '', false);
  if (!r.ok) issues.push(...r.issues);
  if (issues.length > 0 || !r.ok) {
    const unknown = issues.every((i) => i.includes(': unknown key'));
    throw new SextantError(unknown ? 'SEXTANT_CONFIG_UNKNOWN_KEY' : 'SEXTANT_CONFIG_INVALID', issues.join('\n  '));
  }
  return r.value;
}

/** Markdown table of every key: path, env variable, type, default, description. */
export function configDocs(schema: ObjectField<Shape>, options: { envPrefix?: string } = {}): string {
  const rows = ['| Key | Environment | Type | Default | Description |', '|---|---|---|---|---|'];
  for (const [path, f] of leaves(schema, '')) {
    const def = f.info.defaultText === undefined ? '' : `\`${f.info.defaultText}\``;
    rows.push(`| \`${path}\` | \`${envName(path, options.envPrefix)}\` | ${f.info.type} | ${def} | ${f.info.description.replace(/\|/g, '\\|')} |`);
  }
  return rows.join('\n') + '\n';
}
