// Error table of @sextant/node-collector (STYLE.md "Coded errors"). Every code is documented in README.md.

const ERRORS = {
  SEXTANT_COLLECTOR_CONFIG_INVALID: { status: 500, message: 'invalid node-collector configuration' },
  SEXTANT_COLLECTOR_CONFIG_UNREADABLE: { status: 500, message: 'the node-collector configuration file cannot be read' },
  SEXTANT_COLLECTOR_PATTERN_INVALID: { status: 500, message: 'an include/exclude pattern is not a valid glob or /regex/' },
  SEXTANT_COLLECTOR_CHECKPOINT_DIR: { status: 500, message: 'the checkpoint directory cannot be written' },
  SEXTANT_COLLECTOR_STATE: { status: 500, message: 'the collector is not in a state that allows this call' },
  // the journald source (JournalError, src/journald/errors.ts)
  SEXTANT_COLLECTOR_JOURNAL_NOT_JOURNAL: { status: 500, message: 'the file is not a systemd journal file (signature LPKSHHRH missing)' },
  SEXTANT_COLLECTOR_JOURNAL_UNSUPPORTED: { status: 500, message: 'the journal file uses an incompatible feature this reader does not know' },
  SEXTANT_COLLECTOR_JOURNAL_CORRUPT: { status: 500, message: 'the journal file is structurally invalid' },
  SEXTANT_COLLECTOR_JOURNAL_TRUNCATED: { status: 500, message: 'the journal file is shorter than its header says' },
  SEXTANT_COLLECTOR_JOURNAL_CONFIG: { status: 500, message: 'invalid journald source option' },
} as const;

type ErrorCode = keyof typeof ERRORS;

class CollectorError extends Error {
  readonly code: ErrorCode;
  readonly statusCode: number;
  constructor(code: ErrorCode, detail: string, options?: { cause?: unknown }) {
    super(`${ERRORS[code].message}: ${detail}`, options);
    this.name = 'CollectorError';
    this.code = code;
    this.statusCode = ERRORS[code].status;
  }
}

function collectorError(code: ErrorCode, detail: string, cause?: unknown): CollectorError {
  return new CollectorError(code, detail, cause === undefined ? undefined : { cause });
}

const ERROR_CODES = Object.keys(ERRORS) as ErrorCode[];

export { collectorError, ERROR_CODES, CollectorError };
export type { ErrorCode };
