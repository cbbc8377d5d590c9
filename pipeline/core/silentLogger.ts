/**
 * The logger every component falls back to when it is given none: library use and tests stay
 * quiet unless the caller passes a logger of its own.
 *
 * @example
 * ```ts
 * import { silentLogger } from 'docpipe';
 * const log = (options.logger ?? silentLogger).child({ component: 'sink' });
 * ```
 */
import { pino, type Logger } from 'pino';

export const silentLogger: Logger = pino({ level: 'silent' });
