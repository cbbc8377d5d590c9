// Reading the state a test asserts on: committed offsets, high watermarks, dead letters.
import Kafka, { type KafkaConsumer, type Message } from '@confluentinc/kafka-javascript';
import { kafkaBrokers, uniqueName } from './stack.js';

const connected = async (groupId: string): Promise<KafkaConsumer> => {
  const consumer = new Kafka.KafkaConsumer(
    { 'bootstrap.servers': kafkaBrokers, 'group.id': groupId, 'enable.auto.commit': false, log_level: 0 },
    { 'auto.offset.reset': 'earliest' },
  );
  await new Promise<void>((resolve, reject) => consumer.connect({ timeout: 10_000 }, (err) => (err ? reject(err) : resolve())));
  return consumer;
};

const disconnect = (c: KafkaConsumer) => new Promise<void>((resolve) => c.disconnect(() => resolve()));

/** The group's committed offset per partition (-1001 where nothing is committed). */
export const committedOffsets = async (groupId: string, topic: string, partitions: number): Promise<number[]> => {
  const consumer = await connected(groupId);
  try {
    const tps = Array.from({ length: partitions }, (_, partition) => ({ topic, partition }));
    const result = await new Promise<{ partition: number; offset: number }[]>((resolve, reject) =>
      consumer.committed(tps, 10_000, (err, list) => (err ? reject(err) : resolve(list))),
    );
    return tps.map((tp) => result.find((r) => r.partition === tp.partition)?.offset ?? -1001);
  } finally {
    await disconnect(consumer);
  }
};

/** The next offset to be written, per partition. */
export const highWatermarks = async (topic: string, partitions: number): Promise<number[]> => {
  const consumer = await connected(uniqueName('hw'));
  try {
    const out: number[] = [];
    for (let p = 0; p < partitions; p++) {
      out.push(
        await new Promise<number>((resolve, reject) => {
          consumer.queryWatermarkOffsets(topic, p, 10_000, (err, o) => (err ? reject(err) : resolve(o.highOffset)));
        }),
      );
    }
    return out;
  } finally {
    await disconnect(consumer);
  }
};

/** Reads `count` messages of `topic` from the start (fails after `timeoutMs`). */
export const readAll = async (topic: string, count: number, timeoutMs = 30_000): Promise<Message[]> => {
  const consumer = await connected(uniqueName('reader'));
  try {
    consumer.setDefaultConsumeTimeout(200);
    consumer.subscribe([topic]);
    const out: Message[] = [];
    const deadline = Date.now() + timeoutMs;
    while (out.length < count && Date.now() < deadline) {
      out.push(...(await new Promise<Message[]>((resolve, reject) => consumer.consume(500, (err, messages) => (err ? reject(err) : resolve(messages))))));
    }
    return out;
  } finally {
    await disconnect(consumer);
  }
};

export const headerValue = (m: Message, key: string): string | undefined => {
  for (const h of m.headers ?? []) {
    if (key in h) return String(h[key]);
  }
  return undefined;
};
