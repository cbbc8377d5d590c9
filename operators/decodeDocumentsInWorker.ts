/**
 * `decodeJson`, `validate` (the default document schema) and `encodeDocuments` in one
 * operator whose work runs on a worker thread: records go in as Kafka values and come out, in
 * the same order, as documents whose text is UTF-8 bytes, ready for `batch` and an `SqlSink`.
 * A record either of those operators would refuse is dead-lettered with the same rejection.
 *
 * Why: in the default chain the main thread is the bottleneck (the Kafka client, batching and
 * the database driver), and decoding, checking and encoding are the largest share of the rest.
 * One thread, because it keeps the records in order and the cores are shared with the broker
 * and the database.
 *
 * Records go in chunks of at most `chunkRecords` (default 256) or 1 MiB of values, and at least
 * once per burst the source hands over, so a quiet topic waits no longer than a round trip. A
 * value of 1 MiB or more is decoded here, in its turn: copying it to the thread gains nothing.
 * The thread's own heap costs some RSS (see the README's Memory section).
 *
 * @example
 * ```ts
 * import { batch, bulkInsert, decodeDocumentsInWorker } from 'docpipe/operators';
 * source.records().pipe(
 *   decodeDocumentsInWorker({ deadLetter }),
 *   batch(),
 *   bulkInsert(mysqlSink, { deadLetter }),
 * ).subscribe();
 * ```
 */
import { Worker } from 'node:worker_threads';
import { Observable, type OperatorFunction } from 'rxjs';
import { decodeDocument } from '../pipeline/core/documentSchema.js';
import type { DecodedChunk, DocumentChunk } from './decodeDocumentsInWorker.worker.js';
import { withPayload, type Envelope } from '../pipeline/core/envelope.js';
import { RecordError, type DeadLetter } from '../pipeline/core/rejections.js';
import { documentEncoder, type EncodedDocument } from './encodeDocuments.js';

export interface DecodeDocumentsInWorkerOptions {
  deadLetter: DeadLetter;
  /** Most records sent to the thread at once (default 256). */
  chunkRecords?: number;
}

/** Bytes of values per chunk at most; a value this large is decoded on the calling thread. */
const CHUNK_BYTES = 1024 * 1024;

type Input = Envelope<Buffer | null>;
/** Waiting for its turn: a chunk sent to the thread, or a large record decoded here. */
type Turn = { chunk: Input[] } | { large: Input };

/**
 * The thread's module sits next to this one's, as `.js` once built and as `.ts` where the
 * sources are run directly (the tests).
 */
const workerModule = (): URL => {
  const extension = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
  return new URL(`./decodeDocumentsInWorker.worker${extension}`, import.meta.url);
};

export const decodeDocumentsInWorker =
  (options: DecodeDocumentsInWorkerOptions): OperatorFunction<Envelope<Buffer | null>, Envelope<EncodedDocument>> =>
  (source) =>
    new Observable<Envelope<EncodedDocument>>((subscriber) => {
      const chunkRecords = options.chunkRecords ?? 256;
      const worker = new Worker(workerModule());
      const encodeHere = documentEncoder();
      /** Oldest first: the thread answers chunks in the order it is given them. */
      const turns: Turn[] = [];
      let pending: Input[] = [];
      let pendingBytes = 0;
      let flushQueued = false;
      let sourceDone = false;
      let closing = false;

      const send = (): void => {
        flushQueued = false;
        if (pending.length === 0) return;
        const records = pending;
        const values = Buffer.allocUnsafeSlow(pendingBytes);
        const lengths = new Int32Array(records.length);
        let at = 0;
        records.forEach((r, i) => {
          if (r.value === null) {
            lengths[i] = -1;
            return;
          }
          r.value.copy(values, at);
          at += r.value.length;
          lengths[i] = r.value.length;
        });
        pending = [];
        pendingBytes = 0;
        turns.push({ chunk: records });
        const chunk: DocumentChunk = { values: values.buffer, lengths };
        worker.postMessage(chunk, [chunk.values, lengths.buffer]);
      };

      const decodeHere = (record: Input): void => {
        let doc: EncodedDocument;
        try {
          doc = encodeHere(decodeDocument(record.value));
        } catch (err) {
          if (!(err instanceof RecordError)) throw err;
          options.deadLetter(record, err);
          return;
        }
        subscriber.next(withPayload(record, doc));
      };

      /** Large records whose turn has come; then completion, once nothing is left. */
      const advance = (): void => {
        for (let turn = turns[0]; turn && 'large' in turn; turn = turns[0]) {
          turns.shift();
          decodeHere(turn.large);
        }
        if (sourceDone && turns.length === 0) subscriber.complete();
      };

      worker.on('message', (decoded: DecodedChunk) => {
        const turn = turns.shift();
        if (!turn || !('chunk' in turn)) {
          subscriber.error(new Error('decodeDocumentsInWorker: an answer from the thread that no chunk waited for'));
          return;
        }
        const text = Buffer.from(decoded.text);
        const { ends, hasUrl, ids } = decoded;
        let next = 0;
        let start = 0;
        turn.chunk.forEach((record, i) => {
          const titleEnd = ends[i * 3]!;
          const bodyEnd = ends[i * 3 + 1]!;
          const urlEnd = ends[i * 3 + 2]!;
          if (decoded.rejections[next]?.[0] === i) {
            options.deadLetter(record, decoded.rejections[next]![1]);
            next++;
          } else {
            subscriber.next(
              withPayload(record, {
                doc_id: ids[i]!,
                title: text.subarray(start, titleEnd),
                body: text.subarray(titleEnd, bodyEnd),
                url: hasUrl[i] ? text.subarray(bodyEnd, urlEnd) : null,
              }),
            );
          }
          start = urlEnd;
        });
        advance();
      });
      worker.on('error', (err) => subscriber.error(err));
      worker.on('exit', (code) => {
        if (!closing) subscriber.error(new Error(`the document worker thread stopped (exit code ${code})`));
      });

      const subscription = source.subscribe({
        next: (record) => {
          const bytes = record.value?.length ?? 0;
          if (bytes >= CHUNK_BYTES) {
            send();
            turns.push({ large: record });
            advance();
            return;
          }
          pending.push(record);
          pendingBytes += bytes;
          if (pending.length >= chunkRecords || pendingBytes >= CHUNK_BYTES) send();
          else if (!flushQueued) {
            // The source hands records over in synchronous bursts; one chunk per burst at least.
            flushQueued = true;
            queueMicrotask(send);
          }
        },
        error: (err: unknown) => subscriber.error(err),
        complete: () => {
          send();
          sourceDone = true;
          advance();
        },
      });

      return () => {
        closing = true;
        subscription.unsubscribe();
        void worker.terminate();
      };
    });
