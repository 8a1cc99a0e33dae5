// Public API of @sextant/kube-metadata.
export { createMetadataCache } from './cache.ts';
export type { MetadataCache, MetadataCacheOptions, MetadataCacheStats, MetadataSource } from './cache.ts';
export { KubeMetadataError, errorCodes, isKubeMetadataError } from './errors.ts';
export type { KubeErrorCode } from './errors.ts';
export { parseImage } from './attributes.ts';
export type { ContainerInfo, ExtractRule, MissReason, ObjectMetaInfo, OwnerInfo, PodInfo, PodKey } from './types.ts';
