// The demo's application: a pretend checkout service instrumented with the official OpenTelemetry
// Node SDK (@opentelemetry/sdk-node) and its OTLP gRPC trace exporter, as an application in the
// cluster would be. The demo runs it as its own process with
//   DEMO_TRACES_ENDPOINT=http://127.0.0.1:<trace-receiver gRPC port>
//   OTEL_RESOURCE_ATTRIBUTES=k8s.pod.uid=<uid>,k8s.container.name=checkout
// (in a cluster the pod UID comes from the Downward API), so the trace receiver associates its spans
// with the `checkout` pod. It prints `{"msg":"demo-app-ready"}`, then `{"spans":n}` four times a
// second, and on SIGTERM flushes its spans and exits.
import { SpanKind, SpanStatusCode, context, trace } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import { NodeSDK } from '@opentelemetry/sdk-node';

const endpoint = process.env['DEMO_TRACES_ENDPOINT'] ?? 'http://127.0.0.1:4317';
const perSecond = Number(process.env['DEMO_TRACES_PER_SECOND'] ?? '5');

const sdk = new NodeSDK({ traceExporter: new OTLPTraceExporter({ url: endpoint }), instrumentations: [] });
sdk.start();
const tracer = trace.getTracer('sextant-demo-checkout', '1.0.0');

let spans = 0;
let n = 0;
function checkout(): void {
  const i = n++;
  const root = tracer.startSpan('POST /api/checkout', {
    kind: SpanKind.SERVER,
    attributes: { 'http.request.method': 'POST', 'url.path': '/api/checkout', 'http.route': '/api/checkout', 'demo.order': i },
  });
  const ctx = trace.setSpan(context.active(), root);
  const db = tracer.startSpan('SELECT shop.orders', { kind: SpanKind.CLIENT, attributes: { 'db.system.name': 'postgresql', 'db.collection.name': 'orders' } }, ctx);
  db.end();
  const pay = tracer.startSpan('POST payments/authorise', { kind: SpanKind.CLIENT, attributes: { 'server.address': 'payments.shop.svc', 'http.request.method': 'POST' } }, ctx);
  if (i % 20 === 19) pay.setStatus({ code: SpanStatusCode.ERROR, message: 'card declined' });
  pay.end();
  root.setAttribute('http.response.status_code', i % 20 === 19 ? 402 : 200);
  root.end();
  spans += 3;
}

const work = setInterval(checkout, Math.max(10, Math.round(1000 / perSecond)));
const report = setInterval(() => process.stdout.write(`${JSON.stringify({ spans })}\n`), 250);

let stopping = false;
function stop(): void {
  if (stopping) return;
  stopping = true;
  clearInterval(work);
  clearInterval(report);
  sdk.shutdown().then(
    () => {
      process.stdout.write(`${JSON.stringify({ spans, final: true })}\n`);
      process.exit(0);
    },
    (err: unknown) => {
      process.stderr.write(`demo app: flushing spans failed: ${String(err)}\n`);
      process.exit(1);
    },
  );
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
process.stdout.write(`${JSON.stringify({ msg: 'demo-app-ready' })}\n`);
