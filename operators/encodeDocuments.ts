/**
 * Encodes each document's text (`title`, `body`, `url`) as UTF-8 once it is final, before
 * batching; `MysqlSink` sends those bytes as they are.
 *
 * Why: records wait in batches and in flight to the database for tens of milliseconds, and
 * while they wait, every young-generation collection copies their strings (two bytes a
 * character for any text outside Latin-1). Held as Buffers, the text lies outside the
 * JavaScript heap and the strings die young, where collecting them costs nothing. The
 * encoding itself is the one the driver would do anyway. Measured here on the default chain
 * (1 KB documents, mixed Chinese and English): 55-60k rows/s against 44-52k without it.
 *
 * Put it last before `batch`: operators after it see Buffers, not strings.
 *
 * @example
 * ```ts
 * import { encodeDocuments } from 'docpipe/operators/encodeDocuments.js';
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
import { withPayload, type Envelope } from '../pipeline/envelope.js';
import type { Document } from './validate.js';

/** A {@link Document} whose text is UTF-8 bytes: the form `MysqlSink` writes without converting. */
export interface EncodedDocument {
  readonly doc_id: bigint;
  readonly title: Buffer;
  readonly body: Buffer;
  readonly url: Buffer | null;
}

export const encodeDocuments = (): OperatorFunction<Envelope<Document>, Envelope<EncodedDocument>> =>
  map((record) =>
    withPayload(record, {
      doc_id: record.payload.doc_id,
      title: Buffer.from(record.payload.title, 'utf8'),
      body: Buffer.from(record.payload.body, 'utf8'),
      url: record.payload.url == null ? null : Buffer.from(record.payload.url, 'utf8'),
    }),
  );
