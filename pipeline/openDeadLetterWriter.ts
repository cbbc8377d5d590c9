/**
 * A {@link DeadLetterWriter} on a librdkafka producer: what `createPipeline` uses, and what a
 * chain composed by hand passes to its operators as `deadLetter`.
 *
 * @example
 * ```ts
 * import { openDeadLetterWriter } from 'docpipe';
 * const dlq = await openDeadLetterWriter({ brokers: '127.0.0.1:9092' });
 * dlq.send(record, { stage: 'mine', errorClass: 'EmptyTitle', message: 'title is blank' });
 * await dlq.drain(10_000);
 * await dlq.close();
 * ```
 */
import { DeadLetterWriter, type DeadLetterWriterOptions } from '../sinks/deadLetterWriter.js';
import { openDeadLetterTransport, type DeadLetterTransportOptions } from './kafka/deadLetterTransport.js';

export type OpenDeadLetterWriterOptions = DeadLetterTransportOptions & DeadLetterWriterOptions;

export const openDeadLetterWriter = async (options: OpenDeadLetterWriterOptions): Promise<DeadLetterWriter> =>
  new DeadLetterWriter(await openDeadLetterTransport(options), options);
