/**
 * Encodes each document's text (`title`, `body`, `url`) as UTF-8 once it is final, before
 * batching; `SqlSink` sends those bytes as they are to MySQL.
 *
 * Why: records wait in batches and on the database for tens of milliseconds, and every
 * young-generation collection meanwhile copies their strings; as Buffers the text lies outside
 * the JavaScript heap. The encoding is the one the driver would do anyway. Text over
 * {@link LARGE_TEXT} characters stays a string. (Measured gain: README, Benchmarks.)
 *
 * Put it last before `batch`: operators after it see Buffers, not strings.
 *
 * @example
 * ```ts
 * import { batch, bulkInsert, decodeJson, encodeDocuments, validate } from 'docpipe/operators';
 * source.records().pipe(
 *   decodeJson({ deadLetter }),
 *   validate({ deadLetter }),
 *   encodeDocuments(),
 *   batch(),
 *   bulkInsert(mysqlSink, { deadLetter }),
 * ).subscribe();
 * ```
 */
import { map, type OperatorFunction } from 'rxjs';
import { withPayload, type Envelope } from '../pipeline/core/envelope.js';
import type { Document } from '../pipeline/core/documentSchema.js';
import { LARGE_TEXT, type EncodedDocument, type EncodedText } from '../pipeline/core/encodedDocument.js';

export { LARGE_TEXT, type EncodedDocument, type EncodedText } from '../pipeline/core/encodedDocument.js';

/** Bytes of the shared buffers text is written into. */
const SLAB_BYTES = 64 * 1024;

/**
 * Writes text into a 64 KiB buffer shared by many records and returns a view of its bytes:
 * one allocation per few dozen documents instead of one or more each (what `Buffer.from`
 * does), and one pass over the text instead of two (measuring, then writing). A buffer is
 * freed when the last record written into it is.
 */
const slabEncoder = (): ((text: string) => Buffer) => {
  let slab = Buffer.allocUnsafeSlow(SLAB_BYTES);
  let used = 0;
  return (text) => {
    // A UTF-16 code unit takes at most 3 bytes in UTF-8, so this much room always suffices.
    const most = text.length * 3;
    if (most > SLAB_BYTES / 4) return Buffer.from(text, 'utf8');
    if (used + most > SLAB_BYTES) {
      slab = Buffer.allocUnsafeSlow(SLAB_BYTES);
      used = 0;
    }
    const written = slab.write(text, used, 'utf8');
    const bytes = slab.subarray(used, used + written);
    used += written;
    return bytes;
  };
};

/** Encodes documents as {@link encodeDocuments} does, each encoder with shared buffers of its own. */
export const documentEncoder = (): ((doc: Document) => EncodedDocument) => {
  const toBytes = slabEncoder();
  const encode = (text: string): EncodedText => (text.length > LARGE_TEXT ? text : toBytes(text));
  return (doc) => ({
    doc_id: doc.doc_id,
    title: encode(doc.title),
    body: encode(doc.body),
    url: doc.url == null ? null : encode(doc.url),
    ...(doc.version !== undefined && { version: doc.version }),
  });
};

export const encodeDocuments = (): OperatorFunction<Envelope<Document>, Envelope<EncodedDocument>> => {
  const encode = documentEncoder();
  return map((record) => withPayload(record, encode(record.payload)));
};
