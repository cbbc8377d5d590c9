/**
 * Hands each batch to a sink, up to `concurrency` batches at a time, and acknowledges every
 * record the sink wrote. Records the sink rejects for their data go to the dead-letter topic
 * (and are done when it acknowledges them); records it found stale (their document has a newer
 * version) are done and counted apart; an error the sink throws is fatal and ends the stream.
 * Emits one result per written batch.
 *
 * @example
 * ```ts
 * import { batch, bulkInsert } from 'docpipe/operators';
 * records.pipe(batch(), bulkInsert(mysqlSink, { deadLetter, concurrency: 2 }))
 *   .subscribe((r) => console.log(`${r.written} rows written, ${r.rejected} dead-lettered`));
 * ```
 */
import { mergeMap, type OperatorFunction } from 'rxjs';
import type { Batch, Envelope } from '../pipeline/core/envelope.js';
import type { DeadLetter } from '../pipeline/core/rejections.js';
import type { RecordSink } from '../pipeline/core/recordSink.js';

export interface BulkInsertOptions {
  deadLetter: DeadLetter;
  concurrency?: number;
}

export interface BatchWritten {
  records: number;
  /** Rows written (after de-duplication within the batch). */
  written: number;
  rejected: number;
  /** Records not written because their document has a newer version, by topic. */
  stale: number;
  staleByTopic: ReadonlyMap<string, number>;
  bytes: number;
  ms: number;
}

export const bulkInsert = <T>(sink: RecordSink<T>, options: BulkInsertOptions): OperatorFunction<Batch<T>, BatchWritten> =>
  mergeMap(async (b: Batch<T>) => {
    const started = performance.now();
    const result = await sink.write(b.records);
    const refused = new Set<Envelope<T>>();
    for (const { record, rejection } of result.rejected) {
      refused.add(record);
      options.deadLetter(record, rejection);
    }
    for (const record of b.records) if (!refused.has(record)) record.done();
    const staleByTopic = new Map<string, number>();
    for (const record of result.stale ?? []) staleByTopic.set(record.topic, (staleByTopic.get(record.topic) ?? 0) + 1);
    return {
      records: b.records.length,
      written: result.written,
      rejected: refused.size,
      stale: result.stale?.length ?? 0,
      staleByTopic,
      bytes: b.bytes,
      ms: performance.now() - started,
    };
  }, options.concurrency ?? 2);
