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
  /** Records given up because every partition of the batch was revoked while it retried (their next owner writes them). */
  revoked: number;
  bytes: number;
  ms: number;
}

export const bulkInsert = <T>(sink: RecordSink<T>, options: BulkInsertOptions): OperatorFunction<Batch<T>, BatchWritten> =>
  mergeMap(async (b: Batch<T>) => {
    const started = performance.now();
    const watch = whenAllReleased(b.records);
    const released = watch?.signal;
    let result;
    try {
      result = await sink.write(b.records, released ? { signal: released } : {});
    } catch (err) {
      if (!released?.aborted) throw err;
      // Their partitions are another member's now: done here frees the budget without moving a
      // commit (see the offset tracker), and the new owner writes them again.
      for (const record of b.records) record.done();
      return {
        records: b.records.length,
        written: 0,
        rejected: 0,
        stale: 0,
        staleByTopic: new Map<string, number>(),
        revoked: b.records.length,
        bytes: b.bytes,
        ms: performance.now() - started,
      };
    } finally {
      // A partition's signal lives as long as its assignment: a listener left on it per batch would pile up.
      watch?.dispose();
    }
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
      revoked: 0,
      bytes: b.bytes,
      ms: performance.now() - started,
    };
  }, options.concurrency ?? 2);

/**
 * A signal aborted once every record's partition is released, and the way to stop listening;
 * undefined if a record has no such signal.
 */
const whenAllReleased = (records: readonly Envelope<unknown>[]): { signal: AbortSignal; dispose: () => void } | undefined => {
  const signals = new Set<AbortSignal>();
  for (const r of records) {
    if (!r.released) return undefined;
    signals.add(r.released);
  }
  if (signals.size === 0) return undefined;
  if (signals.size === 1) return { signal: signals.values().next().value!, dispose: () => {} };
  const all = new AbortController();
  let left = signals.size;
  const listeners: [AbortSignal, () => void][] = [];
  for (const s of signals) {
    if (s.aborted) {
      left--;
      continue;
    }
    const onAbort = (): void => {
      if (--left === 0) all.abort(s.reason);
    };
    s.addEventListener('abort', onAbort, { once: true });
    listeners.push([s, onAbort]);
  }
  if (left === 0) all.abort([...signals][0]!.reason);
  return { signal: all.signal, dispose: () => listeners.forEach(([s, onAbort]) => s.removeEventListener('abort', onAbort)) };
};
