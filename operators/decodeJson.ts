/**
 * Decodes each record's value as a UTF-8 JSON object. Integer fields named in `exactIntegers`
 * (default `doc_id`) come out as exact `bigint`s over the whole signed 64-bit range. A value
 * that is empty (a tombstone), not UTF-8, not JSON, or not an object is dead-lettered with the
 * reason.
 *
 * @example
 * ```ts
 * import { decodeJson } from 'docpipe/operators/decodeJson.js';
 * source.records().pipe(decodeJson({ deadLetter })).subscribe((e) => console.log(e.payload));
 * ```
 */
import { isUtf8 } from 'node:buffer';
import type { OperatorFunction } from 'rxjs';
import type { Envelope } from '../pipeline/envelope.js';
import { NotAnObjectError, parseJsonExact } from '../pipeline/exactJson.js';
import { RecordError, type DeadLetter } from '../pipeline/records.js';
import { mapRecords } from './mapRecords.js';

export interface DecodeJsonOptions {
  deadLetter: DeadLetter;
  exactIntegers?: readonly string[];
}

const STAGE = 'decode';

/**
 * Decodes one value as {@link decodeJson} does, throwing a {@link RecordError} for a value it
 * refuses: shared with the worker thread of `decodeDocumentsInWorker`, so both refuse
 * the same records with the same words.
 */
export const decodeValue = (value: Buffer | null, fields: readonly string[]): Record<string, unknown> => {
  if (value === null || value.length === 0) {
    throw new RecordError(STAGE, 'EmptyValue', 'the record has no value (a tombstone); documents cannot be deleted through docpipe');
  }
  // A UTF-8 byte order mark is allowed and dropped, as JSON parsers commonly do.
  const text = value[0] === 0xef && value[1] === 0xbb && value[2] === 0xbf ? value.toString('utf8', 3) : value.toString('utf8');
  // Decoding replaces bad bytes with U+FFFD, so only text that has one can come from bad
  // bytes; checking that text alone spares the check of every value.
  if (text.includes('\uFFFD') && !isUtf8(value)) throw new RecordError(STAGE, 'EncodingError', 'the value is not valid UTF-8');
  try {
    return parseJsonExact(text, fields);
  } catch (err) {
    if (err instanceof NotAnObjectError) throw new RecordError(STAGE, 'NotAnObject', err.message);
    throw new RecordError(STAGE, 'SyntaxError', `invalid JSON: ${(err as Error).message}`);
  }
};

export const decodeJson = (
  options: DecodeJsonOptions,
): OperatorFunction<Envelope<Buffer | null>, Envelope<Record<string, unknown>>> => {
  const fields = options.exactIntegers ?? ['doc_id'];
  return mapRecords((value: Buffer | null) => decodeValue(value, fields), options);
};
