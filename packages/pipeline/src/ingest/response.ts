// The HTTP answers of an OTLP/HTTP endpoint, framework-agnostic: status, headers, body.
// see https://opentelemetry.io/docs/specs/otlp/#otlphttp-response
import type { IngestRejection } from './rejections.ts';
import { encodeExportResponse, encodeRpcStatus } from './wire.ts';
import type { OtlpFormat, OtlpSignal, PartialSuccess } from './wire.ts';

interface IngestResponse {
  statusCode: number;
  headers: Record<string, string>;
  body: Buffer;
}

function contentTypeOf(format: OtlpFormat): string {
  return format === 'json' ? 'application/json' : 'application/x-protobuf';
}

/** 200 with Export<Signal>ServiceResponse, optionally carrying a partial success. */
function successResponse(signal: OtlpSignal, format: OtlpFormat, partial?: PartialSuccess): IngestResponse {
  return { statusCode: 200, headers: { 'content-type': contentTypeOf(format) }, body: encodeExportResponse(signal, format, partial) };
}

/** 4xx/5xx with a google.rpc.Status body, Retry-After (whole seconds, at least 1) when set. */
function rejectionResponse(rejection: IngestRejection, format: OtlpFormat): IngestResponse {
  const headers: Record<string, string> = { 'content-type': contentTypeOf(format) };
  if (rejection.retryAfterMs !== undefined) headers['retry-after'] = String(Math.max(1, Math.ceil(rejection.retryAfterMs / 1000)));
  if (rejection.closeConnection === true) headers.connection = 'close';
  return { statusCode: rejection.statusCode, headers, body: encodeRpcStatus(rejection.grpcCode, rejection.message, format) };
}

export { contentTypeOf, rejectionResponse, successResponse };
export type { IngestResponse };
