// GET https://<node>:10250/stats/summary with the ServiceAccount token (re-read on every scrape: projected tokens
// rotate) and the cluster CA. The chart grants `get nodes/stats` only when kubelet metrics are on.
import { readFile } from 'node:fs/promises';
import { request } from 'node:https';
import { checkServerIdentity } from 'node:tls';
import type { PeerCertificate } from 'node:tls';
import { isIP } from 'node:net';
import type { Summary } from './summary.ts';

interface KubeletClientOptions {
  /** Base URL, e.g. `https://10.0.0.5:10250`. */
  endpoint: string;
  /** Also accepted as the certificate's name when `endpoint` is an IP (kubelet certs often name the node only). */
  nodeName: string | undefined;
  tokenFile: string;
  /** Absent: the system CAs (and NODE_EXTRA_CA_CERTS). */
  caFile: string | undefined;
  insecureSkipVerify: boolean;
  timeoutMs: number;
  /** Response bytes above this are refused (a summary is ~2 KB per pod). Default 64 MiB. */
  maxBytes?: number;
}

type KubeletResult = { kind: 'ok'; summary: Summary } | { kind: 'error'; reason: 'token' | 'ca' | 'connection' | 'status' | 'decode'; error: string };

async function fetchSummary(o: KubeletClientOptions): Promise<KubeletResult> {
  let token: string;
  try {
    token = (await readFile(o.tokenFile, 'utf8')).trim();
  } catch (e) {
    return { kind: 'error', reason: 'token', error: `${o.tokenFile}: ${e instanceof Error ? e.message : String(e)}` };
  }
  let ca: Buffer | undefined;
  if (o.caFile !== undefined && !o.insecureSkipVerify) {
    try {
      ca = await readFile(o.caFile);
    } catch (e) {
      return { kind: 'error', reason: 'ca', error: `${o.caFile}: ${e instanceof Error ? e.message : String(e)}` };
    }
  }
  const url = new URL('/stats/summary', o.endpoint);
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const maxBytes = o.maxBytes ?? 64 << 20;
  return new Promise((resolve) => {
    let settled = false;
    const finish = (r: KubeletResult): void => {
      if (!settled) {
        settled = true;
        resolve(r);
      }
    };
    const req = request(
      url,
      {
        method: 'GET',
        headers: { authorization: `Bearer ${token}`, accept: 'application/json' },
        timeout: o.timeoutMs,
        rejectUnauthorized: !o.insecureSkipVerify,
        ...(ca !== undefined ? { ca } : {}),
        checkServerIdentity: (name: string, cert: PeerCertificate) => {
          const err = checkServerIdentity(name, cert);
          if (err === undefined || o.nodeName === undefined || isIP(host) === 0) return err;
          return checkServerIdentity(o.nodeName, cert);
        },
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > maxBytes) {
            req.destroy(new Error(`response larger than ${maxBytes} bytes`));
            return;
          }
          chunks.push(c);
        });
        res.on('error', (e) => finish({ kind: 'error', reason: 'connection', error: e.message }));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          if (res.statusCode !== 200) {
            finish({ kind: 'error', reason: 'status', error: `HTTP ${res.statusCode ?? 0}: ${text.slice(0, 200)}` });
            return;
          }
          try {
            const summary = JSON.parse(text) as Summary;
            if (typeof summary !== 'object' || summary === null || typeof summary.node !== 'object') throw new Error('no "node" object');
            finish({ kind: 'ok', summary });
          } catch (e) {
            finish({ kind: 'error', reason: 'decode', error: e instanceof Error ? e.message : String(e) });
          }
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer within ${o.timeoutMs} ms`)));
    req.on('error', (e) => finish({ kind: 'error', reason: 'connection', error: e.message }));
    req.end();
  });
}

export { fetchSummary };
export type { KubeletClientOptions, KubeletResult };
