// Public API of @sextant/enrichment.
export { createEnrichmentService } from './create.ts';
export type { EnrichmentServiceOptions } from './create.ts';
export type { EnrichmentService } from './service.ts';
export { enrichmentConfigDocs, enrichmentConfigSchema, loadEnrichmentConfig, resolveEnrichmentConfig } from './config.ts';
export type { EnrichmentConfig, LoadEnrichmentConfigOptions } from './config.ts';
export { runEnrichment } from './main.ts';
export { EnrichmentError, errorCodes } from './errors.ts';
export type { EnrichmentErrorCode } from './errors.ts';
export type { EnrichmentServiceWithSources } from './events/attach.ts';
export type { EventsSource } from './events/source.ts';
