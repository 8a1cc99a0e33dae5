// Test helpers shared by the package tests, test/traces and bench/traces: a gRPC unary client
// written on node:http2 (so a test can choose the source address, compress, or send bytes
// grpc-js would refuse), a capturing OTLP gRPC backend, and request builders.
import { connect } from 'node:http2';
import type { ClientHttp2Session } from 'node:http2';
import { connect as netConnect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { gzipSync } from 'node:zlib';
import { Server, ServerCredentials, status as GrpcStatus } from '@grpc/grpc-js';
import type { ServerUnaryCall, sendUnaryData } from '@grpc/grpc-js';
import { decodeTraceRequest, encodeTraceRequest } from '@sextant/otlp';
import type { ExportTraceServiceRequest, TraceRequestInit } from '@sextant/otlp';
import { EXPORT_PATH, traceServiceDefinition } from '../src/index.ts';

interface GrpcAnswer {
  /** grpc-status (0 = OK). */
  readonly code: number;
  readonly message: string;
  /** Response message bytes (ExportTraceServiceResponse) when code is 0. */
  readonly body: Buffer;
  /** grpc-status-details-bin, when sent. */
  readonly details: Buffer | undefined;
  readonly httpStatus: number;
}

interface GrpcClientOptions {
  /** Source address of the TCP connection (a 127.x.y.z loopback alias in tests). */
  readonly localAddress?: string;
  readonly tls?: { readonly ca: Buffer; readonly cert?: Buffer; readonly key?: Buffer; readonly servername?: string };
}

interface RawGrpcClient {
  exportTraces(payload: Uint8Array, opts?: { gzip?: boolean; metadata?: Record<string, string>; path?: string }): Promise<GrpcAnswer>;
  close(): void;
}

function createRawGrpcClient(port: number, host = '127.0.0.1', opts: GrpcClientOptions = {}): RawGrpcClient {
  const tls = opts.tls;
  const session: ClientHttp2Session = connect(`${tls === undefined ? 'http' : 'https'}://${host}:${port}`, {
    createConnection: () =>
      tls === undefined
        ? netConnect({ host, port, ...(opts.localAddress === undefined ? {} : { localAddress: opts.localAddress }) })
        : tlsConnect({
            host,
            port,
            ca: tls.ca,
            ALPNProtocols: ['h2'],
            servername: tls.servername ?? 'localhost',
            ...(tls.cert === undefined ? {} : { cert: tls.cert }),
            ...(tls.key === undefined ? {} : { key: tls.key }),
            ...(opts.localAddress === undefined ? {} : { localAddress: opts.localAddress }),
          }),
  });
  session.on('error', () => {});
  return {
    exportTraces(payload, o = {}) {
      const body = o.gzip === true ? gzipSync(payload) : Buffer.from(payload);
      const frame = Buffer.alloc(5 + body.length);
      frame[0] = o.gzip === true ? 1 : 0;
      frame.writeUInt32BE(body.length, 1);
      body.copy(frame, 5);
      return new Promise((resolve, reject) => {
        const headers: Record<string, string> = {
          ':method': 'POST',
          ':path': o.path ?? EXPORT_PATH,
          'content-type': 'application/grpc',
          te: 'trailers',
          ...(o.gzip === true ? { 'grpc-encoding': 'gzip' } : {}),
          'grpc-accept-encoding': 'identity',
          ...o.metadata,
        };
        const req = session.request(headers);
        const chunks: Buffer[] = [];
        let httpStatus = 0;
        let head: Record<string, unknown> = {};
        req.on('response', (h) => {
          httpStatus = Number(h[':status']);
          head = { ...h };
        });
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('trailers', (t: Record<string, unknown>) => {
          head = { ...head, ...t };
        });
        // A server may reset the stream after sending its status (e.g. while a too-large
        // message is still being sent): the status then counts, not the reset.
        req.on('error', (err: Error) => {
          if (head['grpc-status'] === undefined) reject(err);
        });
        req.on('close', () => {
          if (head['grpc-status'] === undefined) {
            reject(new Error(`stream closed without a grpc-status (RST_STREAM code ${req.rstCode})`));
            return;
          }
          const raw = Buffer.concat(chunks);
          const details = head['grpc-status-details-bin'];
          resolve({
            code: Number(head['grpc-status'] ?? -1),
            message: decodeURIComponent(typeof head['grpc-message'] === 'string' ? head['grpc-message'] : ''),
            body: raw.length >= 5 ? raw.subarray(5) : Buffer.alloc(0),
            details: typeof details === 'string' ? Buffer.from(details, 'base64') : undefined,
            httpStatus,
          });
        });
        req.end(frame);
      });
    },
    close() {
      session.close();
    },
  };
}

type BackendMode = 'ok' | 'unavailable' | 'invalid' | 'hang';

interface CapturingBackend {
  readonly endpoint: string;
  readonly port: number;
  /** Every request received while in mode `ok`, decoded. */
  readonly received: ExportTraceServiceRequest[];
  mode: BackendMode;
  /** Resolves once `n` spans in total have arrived. */
  waitForSpans(n: number, timeoutMs?: number): Promise<void>;
  spanCount(): number;
  /** Answers every call held in `hang` mode with UNAVAILABLE. */
  releaseHung(): void;
  stop(): Promise<void>;
}

/** A real OTLP gRPC server (grpc-js) that records what it accepts. */
async function startCapturingBackend(port = 0): Promise<CapturingBackend> {
  const server = new Server();
  const received: ExportTraceServiceRequest[] = [];
  const hung: Array<sendUnaryData<Buffer>> = [];
  let waiters: Array<() => void> = [];
  const spans = (): number => received.reduce((n, r) => n + r.resourceSpans.reduce((m, rs) => m + rs.scopeSpans.reduce((k, ss) => k + ss.spans.length, 0), 0), 0);
  const backend: CapturingBackend = {
    endpoint: '',
    port: 0,
    received,
    mode: 'ok',
    spanCount: spans,
    waitForSpans(n, timeoutMs = 15_000) {
      return new Promise((resolve, reject) => {
        const check = (): boolean => {
          if (spans() >= n) {
            clearTimeout(t);
            resolve();
            return true;
          }
          return false;
        };
        const t = setTimeout(() => reject(new Error(`backend has ${spans()} spans, waited for ${n}`)), timeoutMs);
        const wait = (): void => {
          if (!check()) waiters.push(wait);
        };
        wait();
      });
    },
    releaseHung() {
      for (const cb of hung.splice(0)) cb({ code: GrpcStatus.UNAVAILABLE, details: 'released' });
    },
    stop() {
      backend.releaseHung();
      return new Promise((resolve) => server.tryShutdown(() => resolve()));
    },
  };
  server.addService(traceServiceDefinition, {
    Export(call: ServerUnaryCall<Buffer, Buffer>, cb: sendUnaryData<Buffer>) {
      if (backend.mode === 'unavailable') return cb({ code: GrpcStatus.UNAVAILABLE, details: 'backend down' });
      if (backend.mode === 'invalid') return cb({ code: GrpcStatus.INVALID_ARGUMENT, details: 'backend refuses' });
      if (backend.mode === 'hang') {
        hung.push(cb);
        return;
      }
      received.push(decodeTraceRequest(call.request));
      cb(null, Buffer.alloc(0));
      const w = waiters;
      waiters = [];
      for (const f of w) f();
    },
  });
  const bound = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`127.0.0.1:${port}`, ServerCredentials.createInsecure(), (err, p) => (err === null ? resolve(p) : reject(err))),
  );
  Object.assign(backend, { port: bound, endpoint: `http://127.0.0.1:${bound}` });
  return backend;
}

function hexId(bytes: number, seed: number): Uint8Array {
  const out = new Uint8Array(bytes);
  for (let i = 0; i < bytes; i++) out[i] = (seed * 31 + i * 7 + 1) & 0xff;
  return out;
}

/** An ExportTraceServiceRequest with one resource (these attributes) and `spans` spans. */
function traceRequest(resourceAttrs: Record<string, string>, spans = 3, seed = 1): Uint8Array {
  const init: TraceRequestInit = {
    resourceSpans: [
      {
        resource: { attributes: Object.entries(resourceAttrs).map(([key, v]) => ({ key, value: { value: { case: 'stringValue', value: v } } })) },
        scopeSpans: [
          {
            scope: { name: 'test' },
            spans: Array.from({ length: spans }, (_, i) => ({
              traceId: hexId(16, seed),
              spanId: hexId(8, seed * 1000 + i),
              name: `span-${i}`,
              kind: 2,
              startTimeUnixNano: 1_700_000_000_000_000_000n + BigInt(i),
              endTimeUnixNano: 1_700_000_000_000_100_000n + BigInt(i),
              attributes: [{ key: 'i', value: { value: { case: 'intValue', value: BigInt(i) } } }],
            })),
          },
        ],
      },
    ],
  };
  return encodeTraceRequest(init);
}

/** Resource attributes of every ResourceSpans the backend received, as plain records. */
function receivedResources(backend: CapturingBackend): Array<Record<string, string>> {
  const out: Array<Record<string, string>> = [];
  for (const r of backend.received) {
    for (const rs of r.resourceSpans) {
      const rec: Record<string, string> = {};
      for (const kv of rs.resource?.attributes ?? []) {
        const v = kv.value?.value;
        rec[kv.key] = v?.case === 'stringValue' ? v.value : JSON.stringify(v?.value, (_k, x: unknown) => (typeof x === 'bigint' ? x.toString() : x));
      }
      out.push(rec);
    }
  }
  return out;
}

/** Decodes google.rpc.Status bytes enough to find a RetryInfo delay (ms), or undefined. */
function retryDelayMs(statusBytes: Buffer | undefined): number | undefined {
  if (statusBytes === undefined) return undefined;
  const s = statusBytes.toString('latin1');
  if (!s.includes('type.googleapis.com/google.rpc.RetryInfo')) return undefined;
  // RetryInfo{1: Duration{1: seconds, 2: nanos}} is the last bytes of the message.
  const idx = statusBytes.lastIndexOf(Buffer.from('google.rpc.RetryInfo'));
  const rest = statusBytes.subarray(idx + 'google.rpc.RetryInfo'.length);
  // rest: 0x12 len 0x0a len [0x08 secs] [0x10 nanos]
  let pos = 4;
  let seconds = 0;
  let nanos = 0;
  const varint = (): number => {
    let v = 0;
    let mul = 1;
    for (;;) {
      const b = rest[pos++] as number;
      v += (b & 0x7f) * mul;
      if (b < 0x80) return v;
      mul *= 128;
    }
  };
  while (pos < rest.length) {
    const tag = rest[pos++];
    if (tag === 0x08) seconds = varint();
    else if (tag === 0x10) nanos = varint();
    else break;
  }
  return seconds * 1000 + Math.round(nanos / 1e6);
}

export { createRawGrpcClient, receivedResources, retryDelayMs, startCapturingBackend, traceRequest };
export type { BackendMode, CapturingBackend, GrpcAnswer, RawGrpcClient };
