/**
 * A librdkafka consumer as the bench's hand-written contenders (the raw source, the raw pipe,
 * upstream's algorithm) use it: connected, subscribed to one topic from its start, and set
 * up for `consume(n)` loops.
 */
import Kafka from '@confluentinc/kafka-javascript';
import { uniqueName } from '../test/helpers/stack.js';

/** Calls the binding has that its type declarations leave out. */
interface TimeoutSwitch {
  setDefaultIsTimeoutOnlyForFirstMessage(only: boolean): void;
}

/**
 * Once its prefetch queue is full (64 MiB by default), librdkafka waits `fetch.queue.backoff.ms`
 * (1 s by default) before fetching again, however soon the queue drains: 100,000 × 1 KB
 * documents read at 79k/s with the default, of which 0.7 s was spent waiting on an empty queue,
 * and at 150-190k/s with 10 ms. A ceiling must not pay that; docpipe sets the same.
 */
export const UNTHROTTLED = { 'fetch.queue.backoff.ms': 10 } as const;

export const subscribedConsumer = async (
  brokers: string,
  groupPrefix: string,
  topic: string,
  settings: Kafka.ConsumerGlobalConfig = {},
): Promise<Kafka.KafkaConsumer> => {
  const consumer = new Kafka.KafkaConsumer(
    { 'bootstrap.servers': brokers, 'group.id': uniqueName(groupPrefix), 'enable.auto.commit': false, log_level: 0, ...settings },
    { 'auto.offset.reset': 'earliest' },
  );
  await new Promise<void>((resolve, reject) => consumer.connect({ timeout: 10_000 }, (err) => (err ? reject(err) : resolve())));
  consumer.setDefaultConsumeTimeout(100);
  // Otherwise consume(n) waits the timeout again for every message it lacks.
  (consumer as unknown as TimeoutSwitch).setDefaultIsTimeoutOnlyForFirstMessage(true);
  consumer.subscribe([topic]);
  return consumer;
};
