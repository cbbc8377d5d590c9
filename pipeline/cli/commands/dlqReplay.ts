/**
 * `docpipe dlq replay --topic T.dlq`: sends dead-lettered records back to the topic they came
 * from (or `--to`), once their cause is fixed — original key, value and headers, without
 * docpipe's dead-letter headers but for `docpipe.version.*`, the position the record first
 * had, by which the sink judges it (so an old version replayed late never overwrites a newer
 * one) — at most `--rate` records a second. Progress is kept in a
 * consumer group (`docpipe-dlq-replay` by default): a second replay continues after the
 * records already replayed, and a record is marked replayed only once Kafka acknowledged its
 * copy. Stops at the end the topic had when the replay began.
 *
 * @example
 * ```sh
 * docpipe dlq replay --topic documents.dlq --rate 100
 * ```
 */
import Kafka, { type KafkaConsumer, type Message } from '@confluentinc/kafka-javascript';
import { connectionFromEnv } from '../runConfig.js';
import { DocumentProducer } from '../../kafka/documentProducer.js';
import { connectClient } from '../../kafka/kafkaConnect.js';
import { DLQ_HEADERS } from '../../../sinks/deadLetterWriter.js';
import { callback } from '../../core/callback.js';

export interface ReplayOptions {
  topic: string;
  to?: string | undefined;
  rate: string;
  group: string;
}

const headerText = (m: Message, key: string): string | undefined => {
  for (const h of m.headers ?? []) if (key in h) return String(h[key]);
  return undefined;
};

export const dlqReplayCommand = async (options: ReplayOptions): Promise<number> => {
  const rate = Number(options.rate);
  if (!Number.isFinite(rate) || rate <= 0) {
    console.error(`docpipe dlq replay: --rate must be a number of records per second greater than 0, got "${options.rate}"`);
    return 2;
  }
  const { kafkaBrokers, rdkafka } = connectionFromEnv(process.env);
  const consumer: KafkaConsumer = new Kafka.KafkaConsumer(
    { 'bootstrap.servers': kafkaBrokers, 'group.id': options.group, 'enable.auto.commit': false, ...rdkafka },
    { 'auto.offset.reset': 'earliest' },
  );
  await connectClient(consumer, kafkaBrokers);
  const producer = await DocumentProducer.open({ brokers: kafkaBrokers, rdkafka });
  let replayed = 0;
  try {
    const metadata = await callback<{ topics: { name: string; partitions: { id: number }[] }[] }>((cb) => {
      consumer.getMetadata({ topic: options.topic, timeout: 10_000 }, cb);
    });
    const partitions = metadata.topics.find((t) => t.name === options.topic)?.partitions.map((p) => p.id) ?? [];
    if (partitions.length === 0) {
      console.error(`docpipe dlq replay: topic ${options.topic} does not exist`);
      return 1;
    }
    const tps = partitions.map((partition) => ({ topic: options.topic, partition }));
    const committed = await callback<{ partition: number; offset: number }[]>((cb) => consumer.committed(tps, 10_000, cb));
    const ends = new Map<number, number>();
    for (const p of partitions) {
      const w = await callback<{ highOffset: number }>((cb) => {
        consumer.queryWatermarkOffsets(options.topic, p, 10_000, cb);
      });
      const from = committed.find((c) => c.partition === p)?.offset ?? -1;
      if (w.highOffset > Math.max(from, 0)) ends.set(p, w.highOffset);
    }
    if (ends.size === 0) {
      console.log(`${options.topic}: nothing to replay`);
      return 0;
    }
    consumer.assign(
      [...ends.keys()].map((partition) => {
        const from = committed.find((c) => c.partition === partition)?.offset ?? -1;
        return { topic: options.topic, partition, offset: from >= 0 ? from : -2 };
      }),
    );
    consumer.setDefaultConsumeTimeout(200);
    const started = Date.now();
    const remaining = new Set(ends.keys());
    while (remaining.size > 0) {
      const batch = await callback<Message[]>((cb) => consumer.consume(100, cb));
      for (const m of batch) {
        if (m.offset >= ends.get(m.partition)!) {
          remaining.delete(m.partition);
          continue;
        }
        const target = options.to ?? headerText(m, DLQ_HEADERS.topic);
        if (!target) {
          console.error(`${options.topic}[${m.partition}]@${m.offset}: no ${DLQ_HEADERS.topic} header and no --to; skipped`);
        } else {
          // Waits so that the average stays at or under --rate.
          const due = started + (replayed / rate) * 1000;
          if (due > Date.now()) await new Promise((r) => setTimeout(r, due - Date.now()));
          // docpipe's headers go, but for the version the record first had, by which it is judged.
          const headers = (m.headers ?? []).filter((h) => !Object.keys(h).some((k) => k.startsWith('docpipe.') && !k.startsWith('docpipe.version.')));
          await producer.sendMessage({ topic: target, value: m.value ?? null, key: m.key === undefined ? null : m.key, headers });
          replayed++;
        }
        await callback<unknown>((cb) =>
          (consumer as unknown as { commitCb: (tps: unknown[], cb: (err: unknown) => void) => void }).commitCb(
            [{ topic: options.topic, partition: m.partition, offset: m.offset + 1 }],
            (err) => cb(err, undefined),
          ),
        );
        if (m.offset >= ends.get(m.partition)! - 1) remaining.delete(m.partition);
      }
    }
    console.log(`${options.topic}: replayed ${replayed} records`);
    return 0;
  } finally {
    await producer.close();
    await new Promise<void>((resolve) => consumer.disconnect(() => resolve()));
  }
};
