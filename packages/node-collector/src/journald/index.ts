// The journald source's public names (re-exported by the package's src/index.ts).
export { openJournalFile } from './file.ts';
export type { JournalFile, JournalEntry, JournalHeader, JournalState, SkipReason, NextResult, FileReadHooks } from './file.ts';
export { openJournalDirectory } from './directory.ts';
export type { JournalDirectory, JournalDirectoryOptions, JournalStats, JournalFileStatus, FilePosition } from './directory.ts';
export { createJournaldSource } from './source.ts';
export type { JournaldSource, JournaldSourceOptions, JournaldSourceStats, SendResult } from './source.ts';
export { mapEntry, mapPriority } from './mapping.ts';
export type { MappedRecord } from './mapping.ts';
export { JournalError, JOURNAL_ERROR_CODES } from './errors.ts';
export type { JournalErrorCode } from './errors.ts';
