// Secrets (tokens, header values) from Secret volumes or env, re-read when the file changes so that
// rotation works without a restart. Kubernetes swaps a Secret volume's files through a symlink, which
// changes the inode; size and mtime catch in-place rewrites.
import { readFile, stat } from 'node:fs/promises';
import { SextantError } from './errors.ts';
import type { SecretSource } from './config.ts';

interface Cached { key: string; value: string }

/** Returns a function that yields the secret's current value (trailing newline trimmed). */
export function secretReader(source: SecretSource, env: Record<string, string | undefined> = process.env): () => Promise<string> {
  if (typeof source === 'string') return () => Promise.resolve(source);
  if ('fromEnv' in source) {
    return () => {
      const v = env[source.fromEnv];
      if (v === undefined) {
        return Promise.reject(new SextantError('SEXTANT_PIPELINE_SECRET_UNREADABLE', `secret env variable ${source.fromEnv} is not set`));
      }
      return Promise.resolve(v.trim());
    };
  }
  let cached: Cached | undefined;
  return async () => {
    try {
      const st = await stat(source.fromFile);
      const key = `${st.ino}:${st.size}:${st.mtimeMs}`;
      if (cached?.key !== key) cached = { key, value: (await readFile(source.fromFile, 'utf8')).replace(/\r?\n$/, '') };
      return cached.value;
    } catch (err) {
      throw new SextantError('SEXTANT_PIPELINE_SECRET_UNREADABLE', `secret file ${source.fromFile} cannot be read: ${(err as Error).message}`, { cause: err });
    }
  };
}

/** Header map whose values may be secrets; `get()` resolves all of them (re-reading rotated files). */
export function headerReader(headers: Record<string, SecretSource | undefined> = {}): () => Promise<Record<string, string>> {
  const readers = Object.entries(headers).flatMap(([k, v]) => (v === undefined ? [] : [[k, secretReader(v)] as const]));
  return async () => {
    const out: Record<string, string> = {};
    for (const [k, read] of readers) out[k.toLowerCase()] = await read();
    return out;
  };
}
