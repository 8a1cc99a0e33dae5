// A small application instrumented with the official OpenTelemetry Node SDK. It makes a few
// traces (nested spans with attributes, events, a link, an error status), exports them to the
// trace receiver, and prints one JSON line per span it created so a test can check that each
// one arrived intact.
//
// Environment:
//   APP_EXPORTER            grpc (default) | http-proto | http-json
//   APP_ENDPOINT            e.g. http://127.0.0.1:4317 (grpc) or http://127.0.0.1:4318 (http)
//   APP_TRACES              number of traces (default 3)
//   APP_RUN                 an id stored in every span (attribute app.run)
//   SEXTANT_APP_SOURCE_ADDRESS  source address of the connection (http: agent localAddress;
//                               grpc: run with --import ./bind-source.ts)
//   OTEL_RESOURCE_ATTRIBUTES, OTEL_SERVICE_NAME  as the SDK reads them
import { SpanStatusCode, context, trace } from '@opentelemetry/api';
import type { Link, Span } from '@opentelemetry/api';
import { OTLPTraceExporter as GrpcExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import { OTLPTraceExporter as HttpJsonExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as HttpProtoExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { NodeSDK } from '@opentelemetry/sdk-node';

const kind = process.env['APP_EXPORTER'] ?? 'grpc';
const endpoint = process.env['APP_ENDPOINT'] ?? (kind === 'grpc' ? 'http://127.0.0.1:4317' : 'http://127.0.0.1:4318');
const traces = Number(process.env['APP_TRACES'] ?? '3');
const run = process.env['APP_RUN'] ?? 'run';
const source = process.env['SEXTANT_APP_SOURCE_ADDRESS'];
const agent = source === undefined || source === '' ? {} : { httpAgentOptions: { localAddress: source, keepAlive: true } };

const exporter =
  kind === 'grpc'
    ? new GrpcExporter({ url: endpoint })
    : kind === 'http-proto'
      ? new HttpProtoExporter({ url: `${endpoint}/v1/traces`, ...agent })
      : new HttpJsonExporter({ url: `${endpoint}/v1/traces`, ...agent });

const sdk = new NodeSDK({ traceExporter: exporter, instrumentations: [] });
sdk.start();

interface Printed {
  traceId: string;
  spanId: string;
  parentSpanId: string | undefined;
  name: string;
  attributes: Record<string, string | number | boolean>;
  events: string[];
  links: Array<{ traceId: string; spanId: string }>;
}
const printed: Printed[] = [];
const tracer = trace.getTracer('sextant-demo-app', '1.0.0');

function record(span: Span, name: string, parent: Span | undefined, attributes: Printed['attributes'], events: string[], links: Link[]): void {
  const c = span.spanContext();
  printed.push({
    traceId: c.traceId,
    spanId: c.spanId,
    parentSpanId: parent?.spanContext().spanId,
    name,
    attributes,
    events,
    links: links.map((l) => ({ traceId: l.context.traceId, spanId: l.context.spanId })),
  });
}

let previous: Span | undefined;
for (let i = 0; i < traces; i++) {
  const links: Link[] = previous === undefined ? [] : [{ context: previous.spanContext(), attributes: { 'link.reason': 'follows' } }];
  const rootAttrs = { 'app.run': run, 'app.trace': i, 'http.request.method': 'GET', 'app.flag': i % 2 === 0 };
  const root = tracer.startSpan(`checkout ${i}`, { attributes: rootAttrs, links });
  root.addEvent('cart.loaded', { items: 3 });
  const ctx = trace.setSpan(context.active(), root);
  const childAttrs = { 'app.run': run, 'db.system.name': 'postgresql', 'db.rows': 7 + i };
  const child = tracer.startSpan(`db.query ${i}`, { attributes: childAttrs }, ctx);
  child.addEvent('rows.fetched');
  if (i === traces - 1) child.setStatus({ code: SpanStatusCode.ERROR, message: 'deadlock' });
  child.end();
  root.end();
  record(root, `checkout ${i}`, undefined, rootAttrs, ['cart.loaded'], links);
  record(child, `db.query ${i}`, root, childAttrs, ['rows.fetched'], []);
  previous = root;
}

for (const p of printed) process.stdout.write(`${JSON.stringify(p)}\n`);
// A failed export (after the exporter's own retries) is reported, not thrown: exit code 3.
try {
  await sdk.shutdown();
} catch (err) {
  const e = err as { code?: number; message?: string };
  process.stderr.write(`EXPORT_FAILED code=${String(e.code)} ${e.message ?? String(err)}\n`);
  process.exitCode = 3;
}
