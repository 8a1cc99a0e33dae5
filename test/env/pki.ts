// Throwaway certificate authorities and leaf certificates for TLS tests, made with the openssl CLI
// (as test/security/audit.test.ts and cluster.ts do): P-256 keys, so generation is instant on a loaded box.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const execFileP = promisify(execFile);
const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

export interface TestCa {
  readonly name: string;
  /** PEM file of the CA certificate (what a client or server trusts). */
  readonly certFile: string;
  readonly keyFile: string;
  readonly cert: Buffer;
}

export interface TestCert {
  readonly certFile: string;
  readonly keyFile: string;
  readonly cert: Buffer;
  readonly key: Buffer;
}

export interface TestLeafOptions {
  /** Server certificate: subjectAltName entries and extendedKeyUsage serverAuth. */
  readonly server?: { readonly ips?: readonly string[]; readonly dns?: readonly string[] };
  /** Client certificate: extendedKeyUsage clientAuth (with `server` too: both usages). */
  readonly client?: boolean;
  /** Validity in days. Default 2. */
  readonly days?: number;
}

export interface TestPki {
  readonly dir: string;
  /** A self-signed CA named `name` (files `<name>.crt`, `<name>.key` in dir). */
  ca(name: string): Promise<TestCa>;
  /** A certificate for `name` signed by `ca` (files `<name>.crt`, `<name>.key` in dir). */
  leaf(ca: TestCa, name: string, options: TestLeafOptions): Promise<TestCert>;
}

async function openssl(cwd: string, args: readonly string[]): Promise<void> {
  await mkdir(cwd, { recursive: true });
  try {
    await execFileP('openssl', args, { cwd });
  } catch (err) {
    const e = err as Error & { stderr?: string };
    throw new Error(`test-env: openssl ${args.join(' ')} failed: ${e.stderr ?? e.message}`, { cause: err });
  }
}

/** Certificates written into `dir` (created when missing; the caller removes it). */
export function createTestPki(dir: string): TestPki {
  const f = (n: string): string => join(dir, n);
  return {
    dir,
    async ca(name) {
      await openssl(dir, ['req', '-x509', ...EC, '-keyout', `${name}.key`, '-out', `${name}.crt`, '-days', '2', '-subj', `/CN=${name}`,
        '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
      return { name, certFile: f(`${name}.crt`), keyFile: f(`${name}.key`), cert: await readFile(f(`${name}.crt`)) };
    },
    async leaf(ca, name, options) {
      const usages = [...(options.server !== undefined ? ['serverAuth'] : []), ...(options.client === true ? ['clientAuth'] : [])];
      const sans = [...(options.server?.ips ?? []).map((ip) => `IP:${ip}`), ...(options.server?.dns ?? []).map((d) => `DNS:${d}`)];
      const ext = [
        'basicConstraints=critical,CA:FALSE',
        'keyUsage=critical,digitalSignature',
        ...(usages.length > 0 ? [`extendedKeyUsage=${usages.join(',')}`] : []),
        ...(sans.length > 0 ? [`subjectAltName=${sans.join(',')}`] : []),
        '',
      ].join('\n');
      await writeFile(f(`${name}.ext`), ext);
      await openssl(dir, ['req', ...EC, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`]);
      await openssl(dir, ['x509', '-req', '-in', `${name}.csr`, '-CA', ca.certFile, '-CAkey', ca.keyFile, '-set_serial', `0x${randomBytes(8).toString('hex')}`,
        '-out', `${name}.crt`, '-days', String(options.days ?? 2), '-extfile', `${name}.ext`]);
      return { certFile: f(`${name}.crt`), keyFile: f(`${name}.key`), cert: await readFile(f(`${name}.crt`)), key: await readFile(f(`${name}.key`)) };
    },
  };
}
