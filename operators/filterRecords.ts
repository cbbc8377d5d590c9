/**
 * Drops the records `keep` says no to. A dropped record counts as done, so its offset can be
 * committed: filtering is a decision, not a loss.
 *
 * @example
 * ```ts
 * import type { Document } from 'docpipe';
 * import { filterRecords } from 'docpipe/operators';
 * const englishOnly = filterRecords((doc: Document) => !/[\u4e00-\u9fff]/.test(doc.title));
 * ```
 */
import { Observable, type OperatorFunction } from 'rxjs';
import type { Envelope } from '../pipeline/core/envelope.js';

export const filterRecords =
  <T>(keep: (payload: T, record: Envelope<T>) => boolean): OperatorFunction<Envelope<T>, Envelope<T>> =>
  (source) =>
    new Observable<Envelope<T>>((subscriber) =>
      source.subscribe({
        next: (record) => {
          let kept: boolean;
          try {
            kept = keep(record.payload, record);
          } catch (err) {
            subscriber.error(err);
            return;
          }
          if (kept) subscriber.next(record);
          else record.done();
        },
        error: (err: unknown) => subscriber.error(err),
        complete: () => subscriber.complete(),
      }),
    );
