/**
 * What a bad record is, and what happens to it: a {@link RecordError} thrown by an operator
 * sends the record to the dead-letter topic with a {@link Rejection}; the rest of the stream
 * goes on.
 *
 * @example
 * ```ts
 * import { RecordError } from 'docpipe';
 * throw new RecordError('validate', 'SchemaError', 'doc_id: expected bigint, received string');
 * ```
 */
import type { Envelope } from './envelope.js';

export interface Rejection {
  /** The stage that refused the record: decode, validate, sink, or a user operator's name. */
  readonly stage: string;
  /** A short class of error, e.g. SyntaxError, SchemaError, ER_DATA_TOO_LONG. */
  readonly errorClass: string;
  readonly message: string;
}

/** Takes ownership of a rejected record: writes it to the dead-letter topic, then marks it done. */
export type DeadLetter = (record: Envelope<unknown>, rejection: Rejection) => void;

export class RecordError extends Error implements Rejection {
  constructor(
    readonly stage: string,
    readonly errorClass: string,
    message: string,
  ) {
    super(message);
    this.name = 'RecordError';
  }
}
