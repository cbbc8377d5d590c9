/**
 * Routes records to the dead-letter topic when `reason` returns a message for them; the
 * others pass on unchanged. For rules that are not a schema: a blocked domain, a size limit.
 *
 * @example
 * ```ts
 * import type { Document } from 'docpipe';
 * import { deadLetterIf } from 'docpipe/operators';
 * const noSpam = deadLetterIf(
 *   (doc: Document) => (doc.url?.includes('spam.example') ? 'url is on the block list' : undefined),
 *   { stage: 'blocklist', deadLetter },
 * );
 * ```
 */
import type { OperatorFunction } from 'rxjs';
import type { Envelope } from '../pipeline/core/envelope.js';
import { RecordError, type DeadLetter } from '../pipeline/core/rejections.js';
import { mapRecords } from './mapRecords.js';

export interface DeadLetterIfOptions {
  stage: string;
  deadLetter: DeadLetter;
  /** errorClass written to the dead-letter headers (default: RuleViolation). */
  errorClass?: string;
}

export const deadLetterIf = <T>(
  reason: (payload: T, record: Envelope<T>) => string | undefined,
  options: DeadLetterIfOptions,
): OperatorFunction<Envelope<T>, Envelope<T>> =>
  mapRecords((payload: T, record: Envelope<T>) => {
    const why = reason(payload, record);
    if (why !== undefined) throw new RecordError(options.stage, options.errorClass ?? 'RuleViolation', why);
    return payload;
  }, options);
