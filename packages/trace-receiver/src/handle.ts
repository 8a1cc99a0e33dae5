// One OTLP trace request, transport-independent: enrich (splice), then forward.
import { OtlpDecodeError, countRecords } from '@sextant/otlp';
import type { PartialSuccess } from '@sextant/pipeline';
import type { Enricher } from './associate.ts';
import type { TraceReceiverErrorCode } from './errors.ts';
import type { Forwarder } from './forward.ts';
import type { ReceiverMetrics } from './metrics.ts';

type Transport = 'grpc' | 'http';

type HandleResult =
  | { kind: 'ok'; partial?: PartialSuccess }
  | { kind: 'rejected'; code: TraceReceiverErrorCode; message: string; retryAfterMs?: number };

interface RequestHandler {
  handle(bytes: Uint8Array, clientAddress: string | undefined, transport: Transport): Promise<HandleResult>;
  /** New requests get SEXTANT_TRACES_SHUTTING_DOWN from now on. */
  stopAccepting(): void;
}

function createRequestHandler(deps: { enricher: Enricher; forwarder: Forwarder; metrics: ReceiverMetrics; retryAfterMs: number }): RequestHandler {
  const { enricher, forwarder, metrics } = deps;
  let accepting = true;
  const done = (transport: Transport, r: HandleResult): HandleResult => {
    metrics.requests.inc({ transport, outcome: r.kind === 'ok' ? 'ok' : r.code });
    return r;
  };
  return {
    async handle(bytes, clientAddress, transport) {
      if (!accepting) {
        return done(transport, { kind: 'rejected', code: 'SEXTANT_TRACES_SHUTTING_DOWN', message: 'the receiver is shutting down', retryAfterMs: deps.retryAfterMs });
      }
      let spans: number;
      let outcome;
      try {
        spans = countRecords(bytes, 'traces');
        outcome = await enricher.enrich(bytes, clientAddress);
      } catch (err) {
        if (err instanceof OtlpDecodeError) {
          return done(transport, { kind: 'rejected', code: 'SEXTANT_TRACES_MALFORMED', message: `the request is not a valid ExportTraceServiceRequest: ${err.message}` });
        }
        throw err;
      }
      metrics.receivedSpans.inc({ transport }, spans);
      metrics.receivedBytes.inc({ transport }, bytes.length);
      for (const [by, n] of Object.entries(outcome.by)) if (n > 0) metrics.associated.inc({ by }, n);
      let partial: PartialSuccess | undefined;
      if (outcome.excludedSpans > 0) {
        metrics.droppedSpans.inc({ reason: 'excluded' }, outcome.excludedSpans);
        partial = {
          rejected: outcome.excludedSpans,
          errorMessage: `SEXTANT_TRACES_EXCLUDED: ${outcome.excludedSpans} spans of ${outcome.excludedResources} resources were dropped because their pod or namespace carries the exclusion annotation`,
        };
      }
      if (outcome.size === 0) return done(transport, partial === undefined ? { kind: 'ok' } : { kind: 'ok', partial });
      const r = await forwarder.submit(outcome.segments, outcome.size);
      if (r.kind === 'ok') return done(transport, partial === undefined ? { kind: 'ok' } : { kind: 'ok', partial });
      if (r.code === 'SEXTANT_TRACES_BACKEND_REJECTED') metrics.droppedSpans.inc({ reason: 'backend_rejected' }, spans - outcome.excludedSpans);
      return done(transport, r);
    },
    stopAccepting() {
      accepting = false;
    },
  };
}

export { createRequestHandler };
export type { HandleResult, RequestHandler, Transport };
