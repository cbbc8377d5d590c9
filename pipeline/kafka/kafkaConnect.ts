/**
 * Connects a librdkafka client (consumer or producer) and says why it cannot. librdkafka's
 * connect only ever reports "broker transport failure" after its timeout, even when the broker
 * has refused the credentials at the first attempt; the refusal shows up in the client's log,
 * so this watches the log while connecting and fails at once, naming the settings to check.
 *
 * @example
 * ```ts
 * const producer = new Kafka.Producer({ 'bootstrap.servers': brokers, ...rdkafka });
 * await connectClient(producer, brokers); // KafkaConnectError: … SASL authentication error: …
 * ```
 */
import type { Client } from '@confluentinc/kafka-javascript';

export class KafkaConnectError extends Error {
  constructor(brokers: string, cause: unknown) {
    super(`cannot connect to Kafka at ${brokers}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.name = 'KafkaConnectError';
  }
}

/** Producer, KafkaConsumer: both are librdkafka clients with a log. */
export type Connectable = Client<'event.log'>;

/** Log lines (level error or worse) that mean retrying will not help. */
const REFUSED = /SASL authentication error|Authentication failed|SSL handshake failed|certificate verify failed/i;

const hint = (message: string): string =>
  /SASL/i.test(message) ? ' (check sasl.mechanisms, sasl.username and sasl.password in the librdkafka settings)' : ' (check the ssl.* librdkafka settings)';

export const connectClient = (client: Connectable, brokers: string, timeoutMs = 10_000): Promise<void> =>
  new Promise<void>((resolve, reject) => {
    let settled = false;
    const onLog = (log: { severity: number; message: string }): void => {
      if (settled || log.severity > 3 || !REFUSED.test(log.message)) return;
      settled = true;
      client.removeListener('event.log', onLog);
      // The part after librdkafka's "[thrd:…]: <broker>: " prefix is the reason.
      const reason = log.message.replace(/^\[thrd:[^\]]*\]:\s*(\S+:\s*)?/, '');
      reject(new KafkaConnectError(brokers, new Error(`${reason}${hint(reason)}`)));
    };
    client.on('event.log', onLog);
    client.connect({ timeout: timeoutMs }, (err) => {
      client.removeListener('event.log', onLog);
      if (settled) return;
      settled = true;
      if (err) reject(new KafkaConnectError(brokers, err));
      else resolve();
    });
  });
