/**
 * Groups records into batches of at most `maxRecords` records or `maxBytes` bytes, or
 * whatever arrived within `maxDelayMs` of a batch's first record — whichever comes first.
 * Completion flushes what is buffered.
 *
 * @example
 * ```ts
 * import { batch } from 'docpipe/operators';
 * records.pipe(batch({ maxRecords: 2000, maxBytes: 4 << 20, maxDelayMs: 50 }))
 *   .subscribe((b) => console.log(b.records.length, b.bytes));
 * ```
 */
import { Observable, type OperatorFunction } from 'rxjs';
import type { Batch, Envelope } from '../pipeline/core/envelope.js';

export interface BatchOptions {
  maxRecords?: number;
  maxBytes?: number;
  maxDelayMs?: number;
}

export const batch =
  <T>(options: BatchOptions = {}): OperatorFunction<Envelope<T>, Batch<T>> =>
  (source) =>
    new Observable<Batch<T>>((subscriber) => {
      const maxRecords = options.maxRecords ?? 1000;
      const maxBytes = options.maxBytes ?? 4 * 1024 * 1024;
      const maxDelayMs = options.maxDelayMs ?? 50;
      /** Records of the batch being filled. */
      let records: Envelope<T>[] = [];
      /** Their size in bytes. */
      let bytes = 0;
      /** Fires maxDelayMs after the batch's first record. */
      let timer: ReturnType<typeof setTimeout> | undefined;

      const flush = () => {
        if (timer !== undefined) clearTimeout(timer);
        timer = undefined;
        if (records.length === 0) return;
        const out: Batch<T> = { records, bytes };
        records = [];
        bytes = 0;
        subscriber.next(out);
      };

      const subscription = source.subscribe({
        next: (record) => {
          records.push(record);
          bytes += record.size;
          if (records.length >= maxRecords || bytes >= maxBytes) flush();
          else timer ??= setTimeout(flush, maxDelayMs);
        },
        error: (err: unknown) => subscriber.error(err),
        complete: () => {
          flush();
          subscriber.complete();
        },
      });

      return () => {
        if (timer !== undefined) clearTimeout(timer);
        subscription.unsubscribe();
      };
    });
