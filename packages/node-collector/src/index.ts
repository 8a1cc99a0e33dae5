// Public API of @sextant/node-collector.
export { createNodeCollector } from './collector.ts';
export type { NodeCollector, CollectorOptions, FileStatus } from './collector.ts';
export { resolveConfig, loadConfig } from './config.ts';
export type { NodeCollectorConfig, ResolvedConfig, Selector, MultilineRule } from './config.ts';
export type { MetricsConfig, ResolvedMetricsConfig } from './telemetry/config.ts';
export { CollectorError, ERROR_CODES } from './errors.ts';
export type { ErrorCode } from './errors.ts';
export { parseRfc3339Nano } from './timestamp.ts';
export { FileParser } from './parser.ts';
export type { ParsedRecord, ParserHooks, ParserOptions, MultilineOptions, Stream, LogFormat } from './parser.ts';
export { openJournalDirectory, openJournalFile, createJournaldSource, mapPriority, JournalError, JOURNAL_ERROR_CODES } from './journald/index.ts';
export type {
  JournalFile,
  JournalEntry,
  JournalHeader,
  JournalDirectory,
  JournalDirectoryOptions,
  JournalStats,
  JournalFileStatus,
  FilePosition,
  JournaldSource,
  JournaldSourceOptions,
  JournaldSourceStats,
  JournalErrorCode,
} from './journald/index.ts';
export type { JournaldConfig } from './journald/config.ts';
export type { AuditLogConfig } from './auditlog/config.ts';
