/**
 * Hands each batch to a sink, up to `concurrency` batches at a time, and acknowledges every
 * record the sink wrote. Records the sink rejects for their data go to the dead-letter topic
 * (and are done when it acknowledges them); an error the sink throws is fatal and ends the
 * stream. Emits one result per written batch.
 *
 * @example
 * ```ts
 * import { bulkInsert } from 'docpipe/operators/bulkInsert.js';
 * records.pipe(batch(), bulkInsert(mysqlSink, { deadLetter, concurrency: 2 }))
 *   .subscribe((r) => console.log(`${r.written} rows written, ${r.rejected} dead-lettered`));
 * ```
 */
import { mergeMap, type OperatorFunction } from 'rxjs';
import type { Batch, Envelope } from '../pipeline/envelope.js';
import type { DeadLetter, Rejection } from '../pipeline/records.js';

export interface SinkRejection<T> {
  record: Envelope<T>;
  rejection: Rejection;
}

export interface SinkResult<T> {
  /** Rows written (after de-duplication within the batch). */
  written: number;
  /** Records refused for their data; everything else in the batch is durably written. */
  rejected: SinkRejection<T>[];
}

export interface RecordSink<T> {
  /** Resolves once the batch is durable; retries transient failures itself. */
  write(records: readonly Envelope<T>[]): Promise<SinkResult<T>>;
}

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
