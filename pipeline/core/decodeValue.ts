/**
 * What `decodeJson` does to one record value, on its own: `decodeJson` and the worker thread
 * of `decodeDocumentsInWorker` both run it, so both refuse the same records with the same
 * words. No RxJS here: the worker thread does not load it.
 *
 * @example
 * ```ts
 * decodeValue(Buffer.from('{"doc_id": 9223372036854775807}'), DEFAULT_EXACT_INTEGERS); // { doc_id: 9223372036854775807n }
 * ```
 */
import { isUtf8 } from 'node:buffer';
import { NotAnObjectError, parseJsonExact } from './exactJson.js';
import { RecordError } from './rejections.js';

const STAGE = 'decode';

/** Integer fields decoded exactly unless told otherwise. */
export const DEFAULT_EXACT_INTEGERS: readonly string[] = ['doc_id'];

/** Decodes one value, throwing a {@link RecordError} for a value it refuses. */
export const decodeValue = (value: Buffer | null, fields: readonly string[]): Record<string, unknown> => {
  if (value === null || value.length === 0) {
    throw new RecordError(
      STAGE,
      'EmptyValue',
      'the record has no value (a tombstone); to delete documents with tombstones, turn deletes on (deletes: true, DOCPIPE_DELETES=true or --deletes)',
    );
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
