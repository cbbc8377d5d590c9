/**
 * The thread behind `decodeDocumentsInWorker`: it decodes, validates and encodes chunks of
 * record values and hands the documents back as UTF-8 text in one buffer per chunk. It
 * refuses exactly what `decodeJson` and `validate` refuse, with the same words: it runs their
 * code.
 *
 * Started by the operator; not meant to be run on its own.
 */
import { parentPort } from 'node:worker_threads';
import { decodeDocument } from '../pipeline/core/documentSchema.js';
import { RecordError, type Rejection } from '../pipeline/core/rejections.js';

/** Record values, sent to the thread. */
export interface DocumentChunk {
  /** Every value of the chunk, one after another. */
  readonly values: ArrayBuffer;
  /** Each value's length in bytes, or -1 for a record without a value. */
  readonly lengths: Int32Array;
}

/** What the thread makes of a {@link DocumentChunk}, record for record. */
export interface DecodedChunk {
  /**
   * The title, body and url of every accepted document, UTF-8, one after another: written
   * over the chunk's values, which are done with by then, so no other buffer is allocated.
   */
  readonly text: ArrayBuffer;
  /** Per record, where its title, body and url end in `text`; each starts where the one before ends. */
  readonly ends: Uint32Array;
  /** Per record, 1 when its url is there, 0 when it is null or absent. */
  readonly hasUrl: Uint8Array;
  readonly ids: BigInt64Array;
  /** The records refused, by their index in the chunk (their `ends` mark no text). */
  readonly rejections: readonly (readonly [number, Rejection])[];
}

export const decodeChunk = ({ values, lengths }: DocumentChunk): DecodedChunk => {
  // One buffer, read and then written over. JSON spells every character of a string in at
  // least as many bytes as UTF-8 does, so a document's text never reaches past the end of its
  // own value, and a value is decoded into a string before its text is written.
  const bytes = Buffer.from(values);
  const count = lengths.length;
  const ends = new Uint32Array(count * 3);
  const hasUrl = new Uint8Array(count);
  const ids = new BigInt64Array(count);
  const rejections: [number, Rejection][] = [];
  let used = 0;
  /** End of the value being decoded: its text must not be written past it. */
  let at = 0;
  const put = (s: string): number => {
    if (at - used < s.length * 3 && Buffer.byteLength(s) > at - used) {
      throw new Error('documentWorker: a document took more bytes as UTF-8 than as JSON');
    }
    used += bytes.write(s, used, 'utf8');
    return used;
  };
  for (let i = 0; i < count; i++) {
    const length = lengths[i]!;
    const value = length < 0 ? null : bytes.subarray(at, at + length);
    if (length > 0) at += length;
    try {
      const doc = decodeDocument(value);
      ids[i] = doc.doc_id;
      ends[i * 3] = put(doc.title);
      ends[i * 3 + 1] = put(doc.body);
      if (doc.url != null) hasUrl[i] = 1;
      ends[i * 3 + 2] = doc.url == null ? used : put(doc.url);
    } catch (err) {
      if (!(err instanceof RecordError)) throw err;
      rejections.push([i, { stage: err.stage, errorClass: err.errorClass, message: err.message }]);
      ends.fill(used, i * 3, i * 3 + 3);
    }
  }
  return { text: values, ends, hasUrl, ids, rejections };
};

parentPort?.on('message', (chunk: DocumentChunk) => {
  const decoded = decodeChunk(chunk);
  const transfer = [decoded.text, decoded.ends.buffer, decoded.hasUrl.buffer, decoded.ids.buffer] as ArrayBuffer[];
  parentPort!.postMessage(decoded, transfer);
});
