// The one table of @sextant/cli error codes. Every code is documented in README.md
// (test/errors.test.ts checks that).

interface ErrorSpec {
  readonly message: string;
  /** HTTP status, for symmetry with the other packages' tables; the CLI maps every error to exit code 2 or 1. */
  readonly status: number;
  /** Process exit code. */
  readonly exitCode: number;
}

const errorCodes = {
  SEXTANT_CLI_UNKNOWN_COMMAND: { message: 'no such subcommand', status: 400, exitCode: 2 },
  SEXTANT_CLI_USAGE: { message: 'command-line arguments are invalid', status: 400, exitCode: 2 },
  SEXTANT_CLI_CHART_NOT_FOUND: { message: 'the Helm chart directory was not found', status: 500, exitCode: 1 },
  SEXTANT_CLI_HELM_NOT_FOUND: { message: 'the helm binary was not found', status: 500, exitCode: 1 },
  SEXTANT_CLI_HELM_FAILED: { message: 'helm could not render the chart', status: 500, exitCode: 1 },
} as const satisfies Record<string, ErrorSpec>;

type CliErrorCode = keyof typeof errorCodes;

/** Error with a stable `.code` from the table above. */
class CliError extends Error {
  readonly code: CliErrorCode;
  readonly status: number;
  readonly exitCode: number;
  constructor(code: CliErrorCode, detail?: string, options?: { cause?: unknown }) {
    const spec = errorCodes[code];
    super(`${code}: ${detail ?? spec.message}`, options);
    this.name = 'CliError';
    this.code = code;
    this.status = spec.status;
    this.exitCode = spec.exitCode;
  }
}

export { CliError, errorCodes };
export type { CliErrorCode, ErrorSpec };
