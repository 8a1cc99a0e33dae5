import { pino } from 'pino';
import type { DestinationStream, Logger as PinoLogger } from 'pino';

/** The logger every pipeline helper accepts: pino's, or anything with the same methods. */
export type Logger = Pick<PinoLogger, 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'child'>;

export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent';

export interface LoggerOptions {
  /** Minimum level written. Default `info`. */
  level?: LogLevel;
  /** Component name, written as `name` on every line. */
  name?: string;
  /** Extra paths to redact, in pino's path syntax (`a.b`, `a["x-y"]`, `*.token`). */
  redact?: readonly string[];
  /** Where lines go. Default stdout (fd 1), synchronously, so nothing is lost on exit. */
  destination?: DestinationStream;
}

// Secrets never reach the log: header values and anything named like a credential.
const defaultRedact = [
  'authorization',
  'Authorization',
  'token',
  'password',
  'secret',
  'apiKey',
  '*.authorization',
  '*.Authorization',
  '*.token',
  '*.password',
  '*.secret',
  '*.apiKey',
  'headers.authorization',
  'headers.Authorization',
  'headers["x-api-key"]',
  'headers["splunk-token"]',
  '*.headers.authorization',
  '*.headers.Authorization',
  'req.headers.authorization',
  'req.headers.cookie',
];

/** pino logger writing JSON lines to stdout, with secrets redacted as `[redacted]`. */
export function createLogger(options: LoggerOptions = {}): Logger {
  const opts = {
    level: options.level ?? 'info',
    redact: { paths: [...defaultRedact, ...(options.redact ?? [])], censor: '[redacted]' },
    base: options.name === undefined ? { pid: process.pid } : { pid: process.pid, name: options.name },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  return pino(opts, options.destination ?? pino.destination({ dest: 1, sync: true }));
}

/** A logger that writes nothing; the default where a logger is optional. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
