/**
 * Flushes and disconnects a librdkafka producer that polls on a timer (`setPollInterval`).
 * The binding's timer keeps calling into the native handle until the 'disconnected' event,
 * and that call takes no lock while the disconnect destroys the handle on a worker thread: a
 * tick in that window touches freed memory and can crash the process. So the timer is stopped
 * once the flush is done, before the disconnect starts.
 *
 * Resolves with the flush's error, if any (the disconnect happens either way).
 *
 * @example
 * ```ts
 * const producer = new Kafka.Producer({ 'bootstrap.servers': '127.0.0.1:9092', dr_cb: true });
 * producer.connect();
 * producer.setPollInterval(10);
 * // … produce …
 * const flushError = await disconnectProducer(producer, 30_000);
 * ```
 */
import type { LibrdKafkaError, Producer } from '@confluentinc/kafka-javascript';

export const disconnectProducer = async (producer: Producer, timeoutMs = 30_000): Promise<LibrdKafkaError | undefined> => {
  const flushError = await new Promise<LibrdKafkaError | undefined>((resolve) => producer.flush(timeoutMs, (err) => resolve(err ?? undefined)));
  producer.setPollInterval(0);
  await new Promise<void>((resolve) => producer.disconnect(timeoutMs, () => resolve()));
  return flushError;
};
