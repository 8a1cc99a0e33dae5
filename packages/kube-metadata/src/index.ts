// Public API of @sextant/kube-metadata.
export { createMetadataCache } from './cache.ts';
export type { MetadataCache, MetadataCacheOptions, MetadataCacheStats, MetadataSource } from './cache.ts';
export { KubeMetadataError, errorCodes, isKubeMetadataError } from './errors.ts';
export type { KubeErrorCode } from './errors.ts';
export { parseImage } from './attributes.ts';
export type { ContainerInfo, ExtractRule, MissReason, ObjectMetaInfo, OwnerInfo, PodInfo, PodKey } from './types.ts';
export { SERVICE_ACCOUNT_DIR, loadKubeCredentials } from './credentials.ts';
export type { KubeAuth, KubeCredentials, KubeSource, KubeTlsMaterial, LoadCredentialsOptions } from './credentials.ts';
export { createKubeTransport } from './transport.ts';
export type { KubeHttpResponse, KubeRequest, KubeTransport } from './transport.ts';
export type { InformerEngine } from './source-api.ts';
