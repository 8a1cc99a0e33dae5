// Typed errors of the journald source. Codes follow the package table's SEXTANT_COLLECTOR_* naming and are
// documented in the package README ("journald" section); see STYLE.md "Coded errors".

const JOURNAL_ERRORS = {
  SEXTANT_COLLECTOR_JOURNAL_NOT_JOURNAL: { status: 500, message: 'the file is not a systemd journal file (signature LPKSHHRH missing)' },
  SEXTANT_COLLECTOR_JOURNAL_UNSUPPORTED: { status: 500, message: 'the journal file uses an incompatible feature this reader does not know' },
  SEXTANT_COLLECTOR_JOURNAL_CORRUPT: { status: 500, message: 'the journal file is structurally invalid' },
  SEXTANT_COLLECTOR_JOURNAL_TRUNCATED: { status: 500, message: 'the journal file is shorter than its header says' },
  SEXTANT_COLLECTOR_JOURNAL_CONFIG: { status: 500, message: 'invalid journald source option' },
} as const;

type JournalErrorCode = keyof typeof JOURNAL_ERRORS;

class JournalError extends Error {
  readonly code: JournalErrorCode;
  readonly statusCode: number;
  constructor(code: JournalErrorCode, detail: string, options?: { cause?: unknown }) {
    super(`${JOURNAL_ERRORS[code].message}: ${detail}`, options);
    this.name = 'JournalError';
    this.code = code;
    this.statusCode = JOURNAL_ERRORS[code].status;
  }
}

const JOURNAL_ERROR_CODES = Object.keys(JOURNAL_ERRORS) as JournalErrorCode[];

export { JournalError, JOURNAL_ERROR_CODES };
export type { JournalErrorCode };
