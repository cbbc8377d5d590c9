/**
 * The contract between the `bulkInsert` operator and a sink: a sink writes a batch durably (or
 * says which records it refused for their data) and retries transient failures itself; an
 * error it throws is fatal. Every sink of `docpipe/sinks` keeps it, and so can one of yours.
 *
 * @example
 * ```ts
 * import type { RecordSink } from 'docpipe/sinks';
 * const logSink: RecordSink<string> = {
 *   write: async (records) => {
 *     for (const r of records) console.log(r.payload);
 *     return { written: records.length, rejected: [] };
 *   },
 * };
 * ```
 */
import type { Envelope } from './envelope.js';
import type { Rejection } from './rejections.js';

export interface SinkRejection<T> {
  record: Envelope<T>;
  rejection: Rejection;
}

export interface SinkResult<T> {
  /** Rows written (after de-duplication within the batch). */
  written: number;
  /** Records refused for their data; everything else in the batch is durably written or stale. */
  rejected: SinkRejection<T>[];
  /**
   * Records not written because the table holds a newer version of their document (or the
   * batch did): done all the same, but counted apart from the written ones.
   */
  stale?: Envelope<T>[];
}

export interface RecordSink<T> {
  /** Resolves once the batch is durable; retries transient failures itself. */
  /**
   * Writes the records. `signal` aborts once no one wants the write any more (every record's
   * partition was revoked): a sink waiting to retry should then reject with `signal.reason`.
   */
  write(records: readonly Envelope<T>[], options?: { signal?: AbortSignal }): Promise<SinkResult<T>>;
}

/** A database failure that retrying cannot fix; the pipeline stops with this message. */
export class FatalSinkError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'FatalSinkError';
  }
}
