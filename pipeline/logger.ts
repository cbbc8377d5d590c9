/**
 * docpipe's pino loggers: JSON lines, one child logger per component, secrets redacted.
 *
 * @example
 * ```ts
 * const log = createLogger({ level: 'info' });
 * log.child({ component: 'sink' }).info({ rows: 2000 }, 'batch written');
 * ```
 */
import { pino, type Logger, type LoggerOptions } from 'pino';

/** Paths whose values never reach a log line. */
export const redactPaths = [
  'password',
  '*.password',
  '*.*.password',
  '["sasl.password"]',
  '*["sasl.password"]',
  '*.*["sasl.password"]',
  '["ssl.key.password"]',
  '*["ssl.key.password"]',
  '*.*["ssl.key.password"]',
];

export const createLogger = (options: LoggerOptions = {}): Logger =>
  pino({
    name: 'docpipe',
    level: process.env['DOCPIPE_LOG_LEVEL'] ?? 'info',
    redact: { paths: redactPaths, censor: '[redacted]' },
    ...options,
  });

/** For library use and tests: logs nothing. */
export const silentLogger: Logger = pino({ level: 'silent' });
