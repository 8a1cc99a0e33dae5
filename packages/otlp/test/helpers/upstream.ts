// Runs test/upstream-decode (our Go program over upstream's go.opentelemetry.io/proto/otlp) to
// decode protobuf bytes with upstream's own generated code. The binary is built once and cached
// under .cache/otlp-upstream-decode/<version>/; concurrent builds serialise on a flock.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';

export const UPSTREAM_VERSION = 'v1.11.1';
const srcDir = path.join(import.meta.dirname, '..', 'upstream-decode');
const repoRoot = path.resolve(import.meta.dirname, '..', '..', '..', '..');
const cacheDir = path.join(repoRoot, '.cache', 'otlp-upstream-decode', UPSTREAM_VERSION);
const bin = path.join(cacheDir, 'upstream-decode');

export type UpstreamKind = 'logs-req' | 'metrics-req' | 'trace-req' | 'logs-resp' | 'metrics-resp' | 'trace-resp';

export function upstreamBinary(): string {
  if (existsSync(bin)) return bin;
  mkdirSync(cacheDir, { recursive: true });
  const script = `test -x "${bin}" || { go build -o "${bin}.tmp.$$" . && mv "${bin}.tmp.$$" "${bin}"; }`;
  execFileSync('flock', [path.join(cacheDir, '.build.lock'), 'sh', '-c', script], { cwd: srcDir, stdio: ['ignore', 'inherit', 'inherit'] });
  return bin;
}

/** Decodes each input with upstream's Go types; returns parsed protojson or the error string. */
export function upstreamDecode(inputs: { kind: UpstreamKind; data: Uint8Array }[]): ({ json: unknown } | { error: string })[] {
  const payload = JSON.stringify(inputs.map((i) => ({ kind: i.kind, data: Buffer.from(i.data).toString('base64') })));
  const out = execFileSync(upstreamBinary(), [], { input: payload, maxBuffer: 1 << 30 });
  return JSON.parse(out.toString('utf8')) as ({ json: unknown } | { error: string })[];
}
