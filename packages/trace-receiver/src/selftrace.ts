// Optional self-tracing (off by default) with @opentelemetry/sdk-node. It must never trace its
// own export path in a loop:
// - no instrumentations are registered, so the exporters' own HTTP/gRPC calls make no spans;
// - the backend export runs under suppressTracing, so even a future instrumentation stays quiet;
// - the self-trace exporter marks its requests with SELF_TRACE_HEADER, and a request carrying
//   it gets no receive span, so pointing self-tracing at this receiver cannot feed itself.
//
// Every OpenTelemetry module is imported only when self-tracing is on: @opentelemetry/api and
// core alone are ~130 modules and ~12 MB of RSS that an idle receiver does not need.
import type { Span, Tracer } from '@opentelemetry/api';

const SELF_TRACE_HEADER = 'x-sextant-self-trace';

interface SelfTracingConfig {
  /** Turn self-tracing on. Default false. */
  readonly enabled: boolean;
  /** OTLP gRPC endpoint the receiver's own spans go to, e.g. `http://otel-collector:4317`. */
  readonly endpoint: string;
  /** service.name of the receiver's own spans. Default `sextant-trace-receiver`. */
  readonly serviceName: string;
}

interface ReceiveSpan {
  end(outcome: string): void;
}

interface SelfTracer {
  /** A span for one received request, or undefined when self-tracing is off. */
  startReceive(transport: 'grpc' | 'http', bytes: number): ReceiveSpan | undefined;
  /** Runs fn with tracing suppressed (the backend export path). */
  untraced<T>(fn: () => T): T;
  shutdown(): Promise<void>;
}

const noopSelfTracer: SelfTracer = {
  startReceive: () => undefined,
  untraced: (fn) => fn(),
  shutdown: () => Promise.resolve(),
};

async function startSelfTracing(cfg: SelfTracingConfig): Promise<SelfTracer> {
  if (!cfg.enabled) return noopSelfTracer;
  // Loaded only when enabled: the SDK is not needed (nor its start-up cost paid) otherwise.
  const [{ context, trace }, { suppressTracing }, { NodeSDK }, { OTLPTraceExporter }, grpc] = await Promise.all([
    import('@opentelemetry/api'),
    import('@opentelemetry/core'),
    import('@opentelemetry/sdk-node'),
    import('@opentelemetry/exporter-trace-otlp-grpc'),
    import('@grpc/grpc-js'),
  ]);
  const metadata = new grpc.Metadata();
  metadata.set(SELF_TRACE_HEADER, '1');
  const sdk = new NodeSDK({
    serviceName: cfg.serviceName,
    traceExporter: new OTLPTraceExporter({ url: cfg.endpoint, metadata }),
    instrumentations: [],
  });
  sdk.start();
  const tracer: Tracer = trace.getTracer('@sextant/trace-receiver');
  return {
    startReceive(transport, bytes) {
      const span: Span = tracer.startSpan(`${transport === 'grpc' ? 'TraceService/Export' : 'POST /v1/traces'}`, {
        attributes: { 'rpc.system': transport === 'grpc' ? 'grpc' : 'http', 'sextant.request.bytes': bytes },
      });
      return {
        end(outcome) {
          span.setAttribute('sextant.outcome', outcome);
          if (outcome !== 'ok') span.setStatus({ code: 2, message: outcome });
          span.end();
        },
      };
    },
    untraced(fn) {
      return context.with(suppressTracing(context.active()), fn);
    },
    async shutdown() {
      await sdk.shutdown();
    },
  };
}

export { SELF_TRACE_HEADER, noopSelfTracer, startSelfTracing };
export type { ReceiveSpan, SelfTracer, SelfTracingConfig };
