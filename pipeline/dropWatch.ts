/**
 * Watches an operator of the user's for records it drops without marking them done — plain
 * RxJS `filter` instead of `filterRecords`. Such a record is neither done nor passed on, so its
 * partition's commit can never pass it: once a later record of the same partition has come out
 * of the operator and the missing one has not, within `afterMs`, it is named in the log (once).
 * A record the operator marks done (filterRecords, deadLetterIf) is not missing.
 *
 * @example
 * ```ts
 * import { filter } from 'rxjs';
 * const watched = watchForDrops(filter((e) => e.payload.title !== ''), log);
 * documents.pipe(watched); // logs "dropped without being marked done: t[0]@41 …" after 5 s
 * ```
 */
import { defer, finalize, map, tap, type OperatorFunction } from 'rxjs';
import type { Logger } from 'pino';
import { coordinates, type Envelope } from './core/envelope.js';

interface Inside {
  readonly record: Envelope<unknown>;
  readonly at: number;
}

const partitionOf = (e: Envelope<unknown>): string => `${e.partition}\u0000${e.topic}`;
const keyOf = (e: Envelope<unknown>): string => `${e.offset}\u0000${e.partition}\u0000${e.topic}`;

export const watchForDrops =
  <A, B>(inner: OperatorFunction<Envelope<A>, Envelope<B>>, log: Logger, afterMs = 5_000): OperatorFunction<Envelope<A>, Envelope<B>> =>
  (source) =>
    defer(() => {
      const inside = new Map<string, Inside>();
      /** Highest offset per partition that came out of the operator. */
      const passed = new Map<string, number>();
      const check = (): void => {
        const now = Date.now();
        for (const [key, { record, at }] of inside) {
          if (now - at < afterMs) continue;
          if ((passed.get(partitionOf(record)) ?? -1) <= record.offset) continue;
          inside.delete(key);
          log.warn(
            { topic: record.topic, partition: record.partition, offset: record.offset },
            `your operator dropped ${coordinates(record)} without marking it done (use filterRecords, which does): its partition's commit cannot pass it until it is read again`,
          );
        }
      };
      const timer = setInterval(check, Math.min(1_000, afterMs));
      timer.unref();
      return source.pipe(
        map((record) => {
          const key = keyOf(record);
          inside.set(key, { record, at: Date.now() });
          // Done inside the operator (filtered out on purpose, dead-lettered) is not dropped.
          return {
            ...record,
            done: () => {
              inside.delete(key);
              record.done();
            },
          };
        }),
        inner,
        tap((record) => {
          inside.delete(keyOf(record));
          const p = partitionOf(record);
          if ((passed.get(p) ?? -1) < record.offset) passed.set(p, record.offset);
        }),
        finalize(() => clearInterval(timer)),
      );
    });
