// Public API of @sextant/trace-receiver.
export { createTraceReceiver } from './receiver.ts';
export type { TraceReceiver, TraceReceiverOptions, TraceReceiverPorts } from './receiver.ts';
export { loadTraceReceiverConfig, resolveTraceReceiverConfig, traceReceiverConfigSchema } from './config.ts';
export type { LoadTraceReceiverConfigOptions, TraceReceiverConfig } from './config.ts';
export { loadTraceReceiverConfigFile, runTraceReceiverMain } from './main.ts';
export { TraceReceiverError, errorCodes } from './errors.ts';
export type { ErrorSpec, TraceReceiverErrorCode } from './errors.ts';
export { createEnricher } from './associate.ts';
export type { AssociatedBy, EnrichOutcome, Enricher, EnricherOptions, PodKeyView, PodMetadata, PodView } from './associate.ts';
export { EXPORT_PATH, traceServiceDefinition } from './grpc.ts';
export { SELF_TRACE_HEADER } from './selftrace.ts';
export type { SelfTracingConfig } from './selftrace.ts';
export type { ServerTlsConfig } from './tls.ts';
