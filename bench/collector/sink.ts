// OTLP/HTTP sink for the collector benchmark, in its own process so that its CPU is not the collector's:
// decompresses, counts records with @sextant/otlp's countRecords, answers 200. GET /count returns the total.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync, zstdDecompressSync } from 'node:zlib';
import { countRecords } from '@sextant/otlp';

let records = 0;
let requests = 0;
const server = createServer((req, res) => {
  if (req.method === 'GET') {
    res.end(JSON.stringify({ records, requests }));
    return;
  }
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    let body = Buffer.concat(chunks);
    const enc = req.headers['content-encoding'];
    if (enc === 'zstd') body = zstdDecompressSync(body);
    else if (enc === 'gzip') body = gunzipSync(body);
    records += countRecords(body, 'logs');
    requests++;
    res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
  });
});
server.keepAliveTimeout = 60000;
server.listen(0, '127.0.0.1', () => process.stdout.write(`${(server.address() as AddressInfo).port}\n`));
