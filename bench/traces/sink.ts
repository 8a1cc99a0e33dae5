// OTLP gRPC sink for the traces benchmark, in its own process so its CPU is nobody's figure:
// raw-bytes TraceService/Export that counts spans (countRecords) and answers OK. It prints its
// port, then `spans <n>` on every SIGUSR2.
import { Server, ServerCredentials } from '@grpc/grpc-js';
import type { ServerUnaryCall, sendUnaryData } from '@grpc/grpc-js';
import { countRecords } from '@sextant/otlp';

const identity = (b: Buffer): Buffer => b;
let spans = 0;
const server = new Server({ 'grpc.max_receive_message_length': 256 * 1024 * 1024 });
server.addService(
  {
    Export: {
      path: '/opentelemetry.proto.collector.trace.v1.TraceService/Export',
      requestStream: false,
      responseStream: false,
      requestSerialize: identity,
      requestDeserialize: identity,
      responseSerialize: identity,
      responseDeserialize: identity,
    },
  },
  {
    Export(call: ServerUnaryCall<Buffer, Buffer>, cb: sendUnaryData<Buffer>) {
      spans += countRecords(call.request, 'traces');
      cb(null, Buffer.alloc(0));
    },
  },
);
server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (err, port) => {
  if (err !== null) throw err;
  process.stdout.write(`${port}\n`);
});
process.on('SIGUSR2', () => process.stdout.write(`spans ${spans}\n`));
process.on('SIGTERM', () => server.forceShutdown());
