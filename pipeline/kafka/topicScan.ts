/**
 * Reads a topic from its first offset up to the end it has now (the high watermarks when the
 * scan starts), without joining a consumer group or committing anything.
 *
 * @example
 * ```ts
 * for await (const m of scanTopic('127.0.0.1:9092', 'documents')) console.log(m.partition, m.offset);
 * ```
 */
import Kafka, { type KafkaConsumer, type Message } from '@confluentinc/kafka-javascript';
import type { RdKafkaSettings } from './kafkaSource.js';
import { connectClient } from './kafkaConnect.js';
import { callback } from '../core/callback.js';

export async function* scanTopic(brokers: string, topic: string, rdkafka: RdKafkaSettings = {}): AsyncGenerator<Message> {
  const consumer: KafkaConsumer = new Kafka.KafkaConsumer(
    { 'bootstrap.servers': brokers, 'group.id': 'docpipe-scan', 'enable.auto.commit': false, ...rdkafka },
    { 'auto.offset.reset': 'earliest' },
  );
  await connectClient(consumer, brokers);
  try {
    const metadata = await callback<{ topics: { name: string; partitions: { id: number }[] }[] }>((cb) => {
      consumer.getMetadata({ topic, timeout: 10_000 }, (err, data) => cb(err, data));
    });
    const partitions = metadata.topics.find((t) => t.name === topic)?.partitions.map((p) => p.id) ?? [];
    if (partitions.length === 0) throw new Error(`topic ${topic} does not exist`);
    const ends = new Map<number, number>();
    for (const p of partitions) {
      const w = await callback<{ highOffset: number; lowOffset: number }>((cb) => {
        consumer.queryWatermarkOffsets(topic, p, 10_000, (err, o) => cb(err, o));
      });
      if (w.highOffset > w.lowOffset) ends.set(p, w.highOffset);
    }
    consumer.assign([...ends.keys()].map((partition) => ({ topic, partition, offset: -2 /* beginning */ })));
    consumer.setDefaultConsumeTimeout(200);
    const remaining = new Set(ends.keys());
    while (remaining.size > 0) {
      const batch = await callback<Message[]>((cb) => consumer.consume(1000, (err, messages) => cb(err, messages)));
      for (const m of batch) {
        const end = ends.get(m.partition)!;
        if (m.offset < end) yield m;
        if (m.offset >= end - 1) remaining.delete(m.partition);
      }
    }
  } finally {
    await new Promise<void>((resolve) => consumer.disconnect(() => resolve()));
  }
}
