// A real HTTP server standing in for enrichment where a test wants the requests as @sextant/otlp decodes them:
// each POST body (zstd or identity) is decoded and handed to the test, then answered 200.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { zstdDecodeAll } from './zstd.ts';
import { decodeLogsRequest } from '@sextant/otlp';
import type { ExportLogsServiceRequest } from '@sextant/otlp';

/** Listens on 127.0.0.1 port 0 until the test ends; resolves to its `host:port` endpoint. */
async function startLogsSink(t: { after(fn: () => Promise<void>): void }, onRequest: (req: ExportLogsServiceRequest) => void): Promise<string> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      let body = Buffer.concat(chunks);
      if (req.headers['content-encoding'] === 'zstd') body = zstdDecodeAll(body);
      onRequest(decodeLogsRequest(body));
      res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(
    () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  );
  return `127.0.0.1:${(server.address() as AddressInfo).port}`;
}

export { startLogsSink };
