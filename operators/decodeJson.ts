/**
 * Decodes each record's value as a UTF-8 JSON object. Integer fields named in `exactIntegers`
 * (default `doc_id`) come out as exact `bigint`s over the whole signed 64-bit range. A value
 * that is empty (a tombstone), not UTF-8, not JSON, or not an object is dead-lettered with the
 * reason.
 *
 * @example
 * ```ts
 * import { decodeJson } from 'docpipe/operators';
 * source.records().pipe(decodeJson({ deadLetter })).subscribe((e) => console.log(e.payload));
 * ```
 */
import type { OperatorFunction } from 'rxjs';
import { decodeValue, DEFAULT_EXACT_INTEGERS } from '../pipeline/core/decodeValue.js';
import type { Envelope } from '../pipeline/core/envelope.js';
import type { DeadLetter } from '../pipeline/core/rejections.js';
import { mapRecords } from './mapRecords.js';

export interface DecodeJsonOptions {
  deadLetter: DeadLetter;
  exactIntegers?: readonly string[];
}

export const decodeJson = (options: DecodeJsonOptions): OperatorFunction<Envelope<Buffer | null>, Envelope<Record<string, unknown>>> => {
  const fields = options.exactIntegers ?? DEFAULT_EXACT_INTEGERS;
  return mapRecords((value: Buffer | null) => decodeValue(value, fields), options);
};
