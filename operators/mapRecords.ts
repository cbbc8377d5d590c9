/**
 * Maps each record's payload and keeps its Kafka coordinates and ack. A {@link RecordError}
 * thrown by `fn` dead-letters that one record and the stream goes on; any other error is a
 * bug and ends the stream.
 *
 * @example
 * ```ts
 * import { RecordError, type Document } from 'docpipe';
 * import { decodeJson, mapRecords, validate } from 'docpipe/operators';
 * const lowerTitles = mapRecords((doc: Document) => {
 *   if (doc.title === '') throw new RecordError('lowerTitles', 'EmptyTitle', 'title is empty');
 *   return { ...doc, title: doc.title.toLowerCase() };
 * }, { deadLetter });
 * source.pipe(decodeJson({ deadLetter }), validate({ deadLetter }), lowerTitles);
 * ```
 */
import { Observable, type OperatorFunction } from 'rxjs';
import { withPayload, type Envelope } from '../pipeline/core/envelope.js';
import { RecordError, type DeadLetter } from '../pipeline/core/rejections.js';

export interface MapRecordsOptions {
  deadLetter: DeadLetter;
}

export const mapRecords =
  <A, B>(fn: (payload: A, record: Envelope<A>) => B, options: MapRecordsOptions): OperatorFunction<Envelope<A>, Envelope<B>> =>
  (source) =>
    new Observable<Envelope<B>>((subscriber) =>
      source.subscribe({
        next: (record) => {
          let payload: B;
          try {
            payload = fn(record.payload, record);
          } catch (err) {
            if (err instanceof RecordError) {
              options.deadLetter(record, err);
              return;
            }
            subscriber.error(err);
            return;
          }
          subscriber.next(withPayload(record, payload));
        },
        error: (err: unknown) => subscriber.error(err),
        complete: () => subscriber.complete(),
      }),
    );
