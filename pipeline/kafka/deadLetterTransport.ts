/**
 * The dead-letter writer's link to Kafka on librdkafka: one idempotent producer whose sends
 * resolve on the broker's acknowledgement, and an admin client, made on first use, that
 * creates missing dead-letter topics.
 *
 * @example
 * ```ts
 * const transport = await openDeadLetterTransport({ brokers: '127.0.0.1:9092' });
 * await transport.createTopic('documents.dlq', { 'max.message.bytes': String(64 << 20) });
 * await transport.send({ topic: 'documents.dlq', value: Buffer.from('{'), key: null, headers: [], timestamp: undefined });
 * await transport.close();
 * ```
 */
import Kafka, { type IAdminClient, type MessageHeader } from '@confluentinc/kafka-javascript';
import { DocumentProducer } from './documentProducer.js';
import type { RdKafkaSettings } from './kafkaSource.js';

export interface DeadLetterTransportOptions {
  brokers: string;
  connectTimeoutMs?: number;
  rdkafka?: RdKafkaSettings;
}

export interface KafkaDeadLetterTransport {
  send(message: { topic: string; value: Buffer | null; key: Buffer | null; headers: MessageHeader[]; timestamp: number | undefined }): Promise<unknown>;
  createTopic(topic: string, config: Record<string, string>): Promise<void>;
  close(): Promise<void>;
}

const ERR_TOPIC_ALREADY_EXISTS = 36;

export const openDeadLetterTransport = async (options: DeadLetterTransportOptions): Promise<KafkaDeadLetterTransport> => {
  const producer = await DocumentProducer.open({
    brokers: options.brokers,
    ...(options.connectTimeoutMs !== undefined && { connectTimeoutMs: options.connectTimeoutMs }),
    rdkafka: {
      'client.id': 'docpipe-dead-letters',
      // Surface a stuck delivery as an error to retry (and log) rather than waiting 5 minutes.
      'message.timeout.ms': 30_000,
      // Poison records can be large; the broker's topic limit still applies.
      'message.max.bytes': 64 * 1024 * 1024,
      ...options.rdkafka,
    },
  });
  let admin: IAdminClient | undefined;
  return {
    send: (message) => producer.sendMessage(message),
    createTopic: (topic, config) =>
      new Promise<void>((resolve, reject) => {
        admin ??= Kafka.AdminClient.create({ 'bootstrap.servers': options.brokers, ...options.rdkafka });
        admin.createTopic({ topic, num_partitions: 1, replication_factor: -1, config }, 10_000, (err) =>
          err && err.code !== ERR_TOPIC_ALREADY_EXISTS ? reject(err) : resolve(),
        );
      }),
    close: async () => {
      admin?.disconnect();
      await producer.close(5_000);
    },
  };
};
