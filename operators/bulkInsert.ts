/**
 * Hands each batch to a sink, up to `concurrency` batches at a time, and acknowledges every
 * record the sink wrote. Records the sink rejects for their data go to the dead-letter topic
 * (and are done when it acknowledges them); an error the sink throws is fatal and ends the
 * stream. Emits one result per written batch.
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
  written: number;
  rejected: number;
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
    return {
      records: b.records.length,
      written: result.written,
      rejected: refused.size,
      bytes: b.bytes,
      ms: performance.now() - started,
    };
  }, options.concurrency ?? 2);
