/**
 * The unit that flows through a docpipe chain: a payload plus the Kafka coordinates it came
 * from and the means to say it is done. Operators replace the payload and keep the rest.
 *
 * @example
 * ```ts
 * import { map } from 'rxjs';
 * import { withPayload, type Envelope } from 'docpipe';
 * const upper = map((e: Envelope<string>) => withPayload(e, e.payload.toUpperCase()));
 * ```
 */
export interface KafkaHeader {
  readonly key: string;
  readonly value: Buffer;
}

export interface Envelope<T> {
  readonly payload: T;
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly key: Buffer | null;
  /** The record's original value, kept so a dead letter carries it unchanged. */
  readonly value: Buffer | null;
  readonly headers: readonly KafkaHeader[];
  /** Kafka timestamp in ms since the epoch, when the broker gave one. */
  readonly timestamp: number | undefined;
  /** Bytes this record holds against the in-flight budget (key + value). */
  readonly size: number;
  /**
   * Marks the record done: written, deliberately dropped, or dead-lettered and acknowledged.
   * Idempotent. Only done records let the committed offset move past them.
   */
  readonly done: () => void;
  /**
   * Aborted once the record's partition is revoked from this member (its next owner reads it
   * again), so that a write still retrying for it can give up and free its budget. Absent for
   * records that no consumer group owns.
   */
  readonly released?: AbortSignal;
}

/** The same record with another payload. */
export const withPayload = <A, B>(envelope: Envelope<A>, payload: B): Envelope<B> => ({
  ...envelope,
  payload,
});

/** Records grouped for one write; acknowledging the batch acknowledges each record. */
export interface Batch<T> {
  readonly records: readonly Envelope<T>[];
  readonly bytes: number;
}

/** Where a record came from, for logs and dead-letter headers. */
export const coordinates = (e: Envelope<unknown>): string => `${e.topic}[${e.partition}]@${e.offset}`;
