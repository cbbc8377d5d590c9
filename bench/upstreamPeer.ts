/**
 * Peer (a), upstream's algorithm: what the Go consumer docpipe replaces did, on the same
 * client docpipe uses. A consumer-group member takes messages one at a time, runs one
 * autocommit `INSERT` per message, and then marks that message (stores its offset), the way
 * sarama's `MarkMessage` did; librdkafka commits marked offsets every 5 s, as sarama's
 * auto-commit did every second. Written with the care a competent engineer would take: one
 * pooled connection, no per-message connect, offsets stored only after the row is written.
 *
 * It manages a few thousand rows a second, so it is given a sample of the topic.
 */
import Kafka from '@confluentinc/kafka-javascript';
import type { Contender, RunInput } from './contender.js';
import { Progress, type Throughput } from './progress.js';
import { subscribedConsumer } from './subscribedConsumer.js';
import type { BenchDocument } from './documents.js';
import { toRow } from './documents.js';

export const upstreamPeer = (sampleSize: number): Contender => ({
  id: 'upstream',
  title: "peer (a): upstream's algorithm, one INSERT per message",
  configuration: `librdkafka consumer group, one autocommit INSERT per message then its offset marked (auto-commit of marked offsets); first ${sampleSize} documents only`,
  writes: true,
  sample: (total) => Math.min(total, sampleSize),
  async run({ ctx, topic, table, total }: RunInput): Promise<Throughput> {
    const target = Math.min(total, sampleSize);
    const consumer = await subscribedConsumer(ctx.brokers, 'bench_upstream', topic, {
      'enable.auto.commit': true,
      'enable.auto.offset.store': false,
    });
    const progress = new Progress();
    let failure: unknown;
    const loop = async () => {
      while (progress.rows < target) {
        const messages = await new Promise<Kafka.Message[]>((resolve, reject) => consumer.consume(100, (err, ms) => (err ? reject(err) : resolve(ms))));
        for (const m of messages) {
          if (progress.rows >= target) break;
          const doc = JSON.parse(m.value!.toString('utf8')) as BenchDocument;
          await ctx.knex(table).insert(toRow(doc, m.partition, m.offset));
          consumer.offsetsStore([{ topic: m.topic, partition: m.partition, offset: m.offset + 1 }]);
          progress.add(1);
        }
      }
    };
    const running = loop().catch((err: unknown) => (failure = err));
    try {
      // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- the loop's own failure, passed on as it came
      await Promise.race([progress.reached(target, this.title), running.then(() => (failure ? Promise.reject(failure) : undefined))]);
      await running;
    } finally {
      await new Promise<void>((resolve) => consumer.disconnect(() => resolve()));
    }
    return progress.result();
  },
});
