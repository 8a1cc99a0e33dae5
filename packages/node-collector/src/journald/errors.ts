// Typed errors of the journald source: the SEXTANT_COLLECTOR_JOURNAL_* codes of the package's one
// error table (src/errors.ts), documented in the package README ("journald" section).
import { CollectorError, ERROR_CODES } from '../errors.ts';
import type { ErrorCode } from '../errors.ts';

type JournalErrorCode = Extract<ErrorCode, `SEXTANT_COLLECTOR_JOURNAL_${string}`>;

class JournalError extends CollectorError {
  declare readonly code: JournalErrorCode;
  constructor(code: JournalErrorCode, detail: string, options?: { cause?: unknown }) {
    super(code, detail, options);
    this.name = 'JournalError';
  }
}

const JOURNAL_ERROR_CODES = ERROR_CODES.filter((c): c is JournalErrorCode => c.startsWith('SEXTANT_COLLECTOR_JOURNAL_'));

export { JournalError, JOURNAL_ERROR_CODES };
export type { JournalErrorCode };
