// A real HTTP server keeping the enrichment contract for tests: it decodes each POST /v1/logs (zstd or gzip),
// hands the records to the test, then answers 200. It can be told to answer 503 or to stop listening.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { zstdDecodeAll } from './zstd.ts';
import { decodeLogsRequest } from './otlp-decode.ts';
import type { DecodedResourceLogs } from './otlp-decode.ts';

type Mode = 'ok' | 'unavailable' | 'too-many' | 'bad-request';

interface Receiver {
  port: number;
  endpoint: string;
  requests: number;
  /** Content-Encoding values seen. */
  encodings: Set<string>;
  setMode(m: Mode): void;
  /** Stops listening (connections refused) until resume(). */
  stop(): Promise<void>;
  resume(): Promise<void>;
  close(): Promise<void>;
}

async function startReceiver(onBatch: (rl: DecodedResourceLogs) => void, fixedPort = 0, host = '127.0.0.1'): Promise<Receiver> {
  let mode: Mode = 'ok';
  let server: Server | undefined;
  let requests = 0;
  const encodings = new Set<string>();
  const make = (): Server =>
    createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        if (mode === 'unavailable') {
          res.writeHead(503, { 'retry-after': '0' }).end();
          return;
        }
        if (mode === 'too-many') {
          res.writeHead(429).end();
          return;
        }
        if (mode === 'bad-request') {
          res.writeHead(400).end('refused by the test');
          return;
        }
        try {
          if (req.url !== '/v1/logs' || req.headers['content-type'] !== 'application/x-protobuf') throw new Error(`bad request ${req.url}`);
          let body = Buffer.concat(chunks);
          const enc = req.headers['content-encoding'];
          encodings.add(enc ?? 'identity');
          if (enc === 'zstd') body = zstdDecodeAll(body);
          else if (enc === 'gzip') body = gunzipSync(body);
          for (const rl of decodeLogsRequest(body)) onBatch(rl);
          requests++;
          res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
        } catch (e) {
          res.writeHead(400).end(String(e));
        }
      });
    });
  const listen = (port: number): Promise<number> =>
    new Promise((resolve, reject) => {
      server = make();
      server.keepAliveTimeout = 60000;
      server.once('error', reject);
      server.listen(port, host, () => resolve((server?.address() as AddressInfo).port));
    });
  const port = await listen(fixedPort);
  const closeServer = async (): Promise<void> => {
    const s = server;
    server = undefined;
    if (s === undefined) return;
    await new Promise<void>((resolve) => {
      s.close(() => resolve());
      s.closeAllConnections();
    });
  };
  return {
    port,
    endpoint: `${host}:${port}`,
    encodings,
    get requests() {
      return requests;
    },
    setMode(m) {
      mode = m;
    },
    stop: closeServer,
    async resume() {
      if (server === undefined) await listen(port);
    },
    close: closeServer,
  };
}

export { startReceiver };
export type { Receiver, Mode };
