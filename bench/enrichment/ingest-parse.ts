// How to read OTLP/HTTP bodies in fastify, measured: fastify's own `parseAs: 'buffer'` parser
// (plus gunzip) against @sextant/pipeline's stream parser (createOtlpBodyParser: Content-Length
// check, chunk collection, gunzip with maxOutputLength). The server runs in this process, the
// load generator in a child; prints requests per CPU-second of the server for each.
//   node bench/enrichment/ingest-parse.ts [--seconds 8]
import { fork } from 'node:child_process';
import { gunzip } from 'node:zlib';
import { promisify } from 'node:util';
import { parseArgs } from 'node:util';
import { gzipSync } from 'node:zlib';
import Fastify from 'fastify';
import type { FastifyInstance } from 'fastify';
import { createOtlpBodyParser } from '@sextant/pipeline';
import { encodeLogsRequest } from '@sextant/otlp';

const gunzipAsync = promisify(gunzip);
const { values } = parseArgs({ options: { seconds: { type: 'string', default: '8' }, child: { type: 'string' } } });

if (values.child !== undefined) {
  // Load generator: 8 keep-alive connections for `seconds`, then report the count.
  const { Agent, request } = await import('node:http');
  const port = Number(values.child);
  const agent = new Agent({ keepAlive: true, maxSockets: 8 });
  const body = gzipSync(encodeLogsRequest({ resourceLogs: [{ resource: { attributes: [{ key: 'k8s.pod.uid', value: { value: { case: 'stringValue', value: 'u' } } }] }, scopeLogs: [{ logRecords: Array.from({ length: 100 }, (_, i) => ({ body: { value: { case: 'stringValue' as const, value: `line ${i} ${'x'.repeat(180)}` } } })) }] }] }));
  const end = Date.now() + Number(values.seconds) * 1000;
  let n = 0;
  await Promise.all(Array.from({ length: 8 }, async () => {
    while (Date.now() < end) {
      await new Promise<void>((res) => {
        const req = request({ host: '127.0.0.1', port, path: '/v1/logs', method: 'POST', agent, headers: { 'content-type': 'application/x-protobuf', 'content-encoding': 'gzip', 'content-length': body.length } }, (r) => {
          r.resume();
          r.on('end', () => res());
        });
        req.end(body);
      });
      n++;
    }
  }));
  process.send?.(n);
  agent.destroy();
  process.exit(0);
}

async function run(name: string, setup: (app: FastifyInstance) => void): Promise<void> {
  const app: FastifyInstance = Fastify({ logger: false, bodyLimit: 64 * 1024 * 1024 });
  setup(app);
  await app.listen({ host: '127.0.0.1', port: 0 });
  const port = (app.server.address() as { port: number }).port;
  const child = fork(new URL(import.meta.url).pathname, ['--child', String(port), '--seconds', String(values.seconds)]);
  const cpu0 = process.cpuUsage();
  const n = await new Promise<number>((res) => child.once('message', (m) => res(Number(m))));
  const cpu = process.cpuUsage(cpu0);
  await app.close();
  const cpuS = (cpu.user + cpu.system) / 1e6;
  process.stdout.write(`${name.padEnd(40)} ${String(n).padStart(7)} requests  ${cpuS.toFixed(2).padStart(6)} CPU s  ${Math.round(n / cpuS).toString().padStart(7)} requests/CPU-s\n`);
}

const parseAsBuffer = (app: FastifyInstance): void => {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
  app.post('/v1/logs', async (req, reply) => {
    const raw = req.body as Buffer;
    const decoded = req.headers['content-encoding'] === 'gzip' ? await gunzipAsync(raw, { maxOutputLength: 64 * 1024 * 1024 }) : raw;
    return reply.code(200).send(Buffer.alloc(0, decoded.length));
  });
};
const streamParser = (app: FastifyInstance): void => {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', createOtlpBodyParser());
  app.post('/v1/logs', async (req, reply) => {
    const r = req.body as { kind: string; body?: Buffer };
    return reply.code(r.kind === 'ok' ? 200 : 400).send(Buffer.alloc(0, r.body?.length ?? 0));
  });
};
// Alternating rounds, so load from elsewhere on the machine hits both alike.
for (let round = 0; round < 3; round++) {
  await run("fastify parseAs 'buffer' + gunzip", parseAsBuffer);
  await run('pipeline createOtlpBodyParser (stream)', streamParser);
}
