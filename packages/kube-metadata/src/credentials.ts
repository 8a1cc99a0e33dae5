// API-server credentials from the pod's ServiceAccount or a kubeconfig, read without
// @kubernetes/client-node: its KubeConfig imports every generated API and model, +24 MiB of heap
// (bench/README.md "Heap with 10,000 pods"). Users that authenticate with `exec` or an
// `auth-provider` (and clusters behind a `proxy-url`) are handed to client-node's KubeConfig,
// imported only then (transport.ts).
//
// Semantics follow client-go (k8s.io/client-go/tools/clientcmd, rest.InClusterConfig):
// - relative file paths in a kubeconfig are relative to the kubeconfig's directory;
// - `*-data` fields are base64 and win over the matching file fields;
// - `tokenFile` is re-read (its last good value wins over `token`); the in-cluster token file is
//   re-read too, so bound ServiceAccount tokens that the kubelet rotates keep working.
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { KubeMetadataError } from './errors.ts';

export type KubeSource = { readonly kind: 'in-cluster' } | { readonly kind: 'kubeconfig'; readonly path: string; readonly context?: string };

export type KubeAuth =
  | { readonly kind: 'none' }
  | { readonly kind: 'token'; readonly token: string }
  /** Re-read on every request; `fallback` (a kubeconfig `token`) until the file was read once. */
  | { readonly kind: 'token-file'; readonly path: string; readonly fallback?: string }
  | { readonly kind: 'basic'; readonly username: string; readonly password: string }
  /** Needs client-node's KubeConfig: an `exec` plugin, an `auth-provider` or a `proxy-url`. */
  | { readonly kind: 'client-node'; readonly reason: 'exec' | 'auth-provider' | 'proxy-url' };

export interface KubeTlsMaterial {
  /** PEM of the CA bundle; unset = the system CAs. */
  readonly ca?: string;
  /** PEM client certificate and key (mTLS). */
  readonly cert?: string;
  readonly key?: string;
  /** SNI and verified name (`tls-server-name`). */
  readonly servername?: string;
  /** false with `insecure-skip-tls-verify: true`. */
  readonly rejectUnauthorized: boolean;
}

export interface KubeCredentials {
  /** API server base URL without a trailing slash. */
  readonly server: string;
  readonly tls: KubeTlsMaterial;
  readonly auth: KubeAuth;
  /** The context's namespace, or the ServiceAccount's namespace in-cluster. */
  readonly namespace: string | undefined;
  /** Where these came from, for messages: `in-cluster` or `<file> (context <name>)`. */
  readonly origin: string;
  readonly source: KubeSource;
}

export interface LoadCredentialsOptions {
  /** Environment read for KUBERNETES_SERVICE_HOST/PORT. Default process.env. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Directory of the ServiceAccount's token, ca.crt and namespace. Default /var/run/secrets/kubernetes.io/serviceaccount. */
  readonly serviceAccountDir?: string;
}

export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

function kubeconfigError(file: string, detail: string, cause?: unknown): KubeMetadataError {
  return new KubeMetadataError('SEXTANT_KUBE_KUBECONFIG', `${file}: ${detail}`, cause === undefined ? undefined : { cause });
}

function readText(path: string, what: string, fail: (detail: string, cause: unknown) => KubeMetadataError): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw fail(`${what} ${path} cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, err);
  }
}

function pem(text: string, where: string, kind: 'CERTIFICATE' | 'PRIVATE KEY', fail: (detail: string) => KubeMetadataError): string {
  // `BEGIN EC PRIVATE KEY`, `BEGIN RSA PRIVATE KEY` and `BEGIN PRIVATE KEY` are all keys.
  const ok = kind === 'CERTIFICATE' ? /-----BEGIN CERTIFICATE-----/.test(text) : /-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(text);
  if (!ok) throw fail(`${where} is not a PEM ${kind === 'CERTIFICATE' ? 'certificate' : 'private key'}`);
  return text;
}

/** In-cluster: the ServiceAccount token (re-read per request), CA and namespace; the API server from the environment. */
function inCluster(options: LoadCredentialsOptions): KubeCredentials {
  const env = options.env ?? process.env;
  const host = env['KUBERNETES_SERVICE_HOST'];
  const port = env['KUBERNETES_SERVICE_PORT'];
  if (host === undefined || host === '' || port === undefined || port === '') {
    throw new KubeMetadataError('SEXTANT_KUBE_NOT_IN_CLUSTER', 'KUBERNETES_SERVICE_HOST/PORT are not set; use source kind "kubeconfig" or "file" outside a pod');
  }
  const dir = options.serviceAccountDir ?? SERVICE_ACCOUNT_DIR;
  const fail = (detail: string, cause?: unknown): KubeMetadataError =>
    new KubeMetadataError('SEXTANT_KUBE_NOT_IN_CLUSTER', `${detail}; is the ServiceAccount token mounted (automountServiceAccountToken)?`, cause === undefined ? undefined : { cause });
  const tokenPath = join(dir, 'token');
  // Read once now so that a missing mount fails start(), not the first LIST.
  if (readText(tokenPath, 'token file', fail).trim() === '') throw fail(`token file ${tokenPath} is empty`);
  const caPath = join(dir, 'ca.crt');
  const ca = pem(readText(caPath, 'CA file', fail), `CA file ${caPath}`, 'CERTIFICATE', fail);
  let namespace: string | undefined;
  try {
    namespace = readFileSync(join(dir, 'namespace'), 'utf8').trim() || undefined;
  } catch {
    namespace = undefined;
  }
  const hostPart = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
  return {
    server: `https://${hostPart}:${port}`,
    tls: { ca, rejectUnauthorized: true },
    auth: { kind: 'token-file', path: tokenPath },
    namespace,
    origin: 'in-cluster',
    source: { kind: 'in-cluster' },
  };
}

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function named(doc: Obj, list: 'clusters' | 'users' | 'contexts', field: 'cluster' | 'user' | 'context', name: string, fail: (d: string) => KubeMetadataError): Obj {
  const entries = doc[list];
  if (entries !== undefined && entries !== null && !Array.isArray(entries)) throw fail(`${list} is not a list`);
  const all = (entries ?? []) as unknown[];
  const hit = all.find((e) => isObj(e) && e['name'] === name);
  if (hit === undefined) {
    const names = all.map((e) => (isObj(e) ? String(e['name']) : '?'));
    throw fail(`${list}: no entry named ${JSON.stringify(name)}; valid: ${names.length === 0 ? '(none)' : names.join(', ')}`);
  }
  const body = (hit as Obj)[field];
  if (body === undefined || body === null) return {};
  if (!isObj(body)) throw fail(`${list}[${JSON.stringify(name)}].${field} is not a mapping`);
  return body;
}

function optString(o: Obj, key: string, where: string, fail: (d: string) => KubeMetadataError): string | undefined {
  const v = o[key];
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v !== 'string') throw fail(`${where}.${key} is ${JSON.stringify(v)}; valid: a string`);
  return v;
}

/** A kubeconfig file: the current or the named context, its cluster and user. */
function fromKubeconfig(path: string, context: string | undefined): KubeCredentials {
  const fail = (detail: string, cause?: unknown): KubeMetadataError => kubeconfigError(path, detail, cause);
  const text = readText(path, 'kubeconfig', (d, c) => kubeconfigError(path, d.replace(`kubeconfig ${path} `, ''), c));
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw fail(`not YAML (${(err as Error).message.split('\n')[0] ?? ''})`, err);
  }
  if (!isObj(doc)) throw fail('not a kubeconfig (expected a mapping with clusters, users and contexts)');
  let ctxName = context;
  if (ctxName === undefined) {
    const cur = doc['current-context'];
    if (typeof cur !== 'string' || cur === '') throw fail('current-context is not set; set it or pass a context');
    ctxName = cur;
  }
  const ctxWhere = `contexts[${JSON.stringify(ctxName)}].context`;
  const ctx = named(doc, 'contexts', 'context', ctxName, fail);
  const clusterName = optString(ctx, 'cluster', ctxWhere, fail);
  if (clusterName === undefined) throw fail(`${ctxWhere}.cluster is not set`);
  const cluster = named(doc, 'clusters', 'cluster', clusterName, fail);
  const userName = optString(ctx, 'user', ctxWhere, fail);
  const user = userName === undefined ? {} : named(doc, 'users', 'user', userName, fail);
  const cw = `clusters[${JSON.stringify(clusterName)}].cluster`;
  const uw = `users[${JSON.stringify(userName ?? '')}].user`;
  const base = dirname(path);
  const abs = (p: string): string => (isAbsolute(p) ? p : join(base, p));

  const server = optString(cluster, 'server', cw, fail);
  if (server === undefined) throw fail(`${cw}.server is not set`);
  let url: URL;
  try {
    url = new URL(server);
  } catch {
    throw fail(`${cw}.server is ${JSON.stringify(server)}; valid: an http(s) URL`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw fail(`${cw}.server is ${JSON.stringify(server)}; valid: an http(s) URL`);

  // A `*-data` field (base64 PEM) or a file; the data field wins, as in client-go.
  const material = (o: Obj, where: string, dataKey: string, fileKey: string, kind: 'CERTIFICATE' | 'PRIVATE KEY'): string | undefined => {
    const data = optString(o, dataKey, where, fail);
    if (data !== undefined) return pem(Buffer.from(data, 'base64').toString('utf8'), `${where}.${dataKey}`, kind, fail);
    const file = optString(o, fileKey, where, fail);
    if (file === undefined) return undefined;
    const p = abs(file);
    return pem(readText(p, `${where}.${fileKey}`, fail), `${where}.${fileKey} (${p})`, kind, fail);
  };
  const skip = cluster['insecure-skip-tls-verify'];
  if (skip !== undefined && skip !== null && typeof skip !== 'boolean') throw fail(`${cw}.insecure-skip-tls-verify is ${JSON.stringify(skip)}; valid: true or false`);
  const ca = material(cluster, cw, 'certificate-authority-data', 'certificate-authority', 'CERTIFICATE');
  const servername = optString(cluster, 'tls-server-name', cw, fail);
  const cert = material(user, uw, 'client-certificate-data', 'client-certificate', 'CERTIFICATE');
  const key = material(user, uw, 'client-key-data', 'client-key', 'PRIVATE KEY');
  if ((cert === undefined) !== (key === undefined)) throw fail(`${uw}: client-certificate and client-key go together (one of them is missing)`);
  const tls: KubeTlsMaterial = {
    ...(ca === undefined ? {} : { ca }),
    ...(cert === undefined || key === undefined ? {} : { cert, key }),
    ...(servername === undefined ? {} : { servername }),
    rejectUnauthorized: skip !== true,
  };

  let auth: KubeAuth;
  const token = optString(user, 'token', uw, fail);
  const tokenFile = optString(user, 'tokenFile', uw, fail);
  const username = optString(user, 'username', uw, fail);
  if (isObj(user['exec'])) auth = { kind: 'client-node', reason: 'exec' };
  else if (isObj(user['auth-provider'])) auth = { kind: 'client-node', reason: 'auth-provider' };
  else if (optString(cluster, 'proxy-url', cw, fail) !== undefined) auth = { kind: 'client-node', reason: 'proxy-url' };
  else if (tokenFile !== undefined) {
    const p = abs(tokenFile);
    if (token === undefined) readText(p, `${uw}.tokenFile`, fail);
    auth = { kind: 'token-file', path: p, ...(token === undefined ? {} : { fallback: token }) };
  } else if (token !== undefined) auth = { kind: 'token', token };
  else if (username !== undefined) auth = { kind: 'basic', username, password: optString(user, 'password', uw, fail) ?? '' };
  else auth = { kind: 'none' };

  const namespace = optString(ctx, 'namespace', ctxWhere, fail);
  return {
    server: server.replace(/\/+$/, ''),
    tls,
    auth,
    namespace,
    origin: `${path} (context ${ctxName})`,
    source: { kind: 'kubeconfig', path, ...(context === undefined ? {} : { context }) },
  };
}

/**
 * Reads the credentials of `source` now (files are read synchronously, once, except token files).
 * Throws KubeMetadataError SEXTANT_KUBE_NOT_IN_CLUSTER or SEXTANT_KUBE_KUBECONFIG naming the file and key.
 */
export function loadKubeCredentials(source: KubeSource, options: LoadCredentialsOptions = {}): KubeCredentials {
  if (source.kind === 'in-cluster') return inCluster(options);
  if (typeof source.path !== 'string' || source.path === '') {
    throw new KubeMetadataError('SEXTANT_KUBE_INVALID_OPTION', `source.path is ${JSON.stringify(source.path)}; valid: a kubeconfig file path`);
  }
  return fromKubeconfig(source.path, source.context);
}

/** Keeps the last good token of a token file (client-go does the same when a read fails mid-rotation). */
export function tokenFileReader(path: string, fallback: string | undefined): () => Promise<string> {
  let last = fallback;
  return async () => {
    try {
      const t = (await readFile(path, 'utf8')).trim();
      if (t !== '') last = t;
    } catch (err) {
      if (last === undefined) throw new KubeMetadataError('SEXTANT_KUBE_KUBECONFIG', `token file ${path} cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, { cause: err });
    }
    if (last === undefined) throw new KubeMetadataError('SEXTANT_KUBE_KUBECONFIG', `token file ${path} is empty`);
    return last;
  };
}
