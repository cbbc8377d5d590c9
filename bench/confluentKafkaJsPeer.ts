/**
 * Peer (c): `@confluentinc/kafka-javascript`'s KafkaJS-compatible API (librdkafka underneath,
 * KafkaJS's programming model on top) with `eachBatch` and one knex batch upsert per batch.
 * Its default batch of 32 messages would cripple it, so `js.consumer.max.batch.size` is set
 * to docpipe's batch size (1,000 records or 4 MiB); offsets are resolved after the write and
 * auto-committed; `partitionsConsumedConcurrently: 3` as for KafkaJS.
 */
import Kafka from '@confluentinc/kafka-javascript';
import type { Contender, RunInput } from './contender.js';
import { Progress, type Throughput } from './progress.js';
import { uniqueName } from '../test/helpers/stack.js';
import { rowOf, writeBatch } from './peerWrites.js';

const { KafkaJS } = Kafka;

export const confluentKafkaJsPeer: Contender = {
  id: 'confluentKafkaJs',
  title: 'peer (c): confluent KafkaJS API eachBatch + knex batch upsert',
  configuration:
    'js.consumer.max.batch.size = min(1000, 4 MiB / document), eachBatch with auto-resolve and auto-commit, partitionsConsumedConcurrently 3, one upsert per batch (2 MiB statements)',
  writes: true,
  async run({ ctx, topic, table, total, docBytes }: RunInput): Promise<Throughput> {
    const kafka = new KafkaJS.Kafka({ kafkaJS: { brokers: ctx.brokers.split(','), logLevel: KafkaJS.logLevel.NOTHING } });
    const consumer = kafka.consumer({
      kafkaJS: { groupId: uniqueName('bench_ckjs'), fromBeginning: true },
      'js.consumer.max.batch.size': Math.min(1000, Math.floor((4 * 1024 * 1024) / docBytes)),
    });
    const progress = new Progress();
    let failure: unknown;
    await consumer.connect();
    try {
      await consumer.subscribe({ topics: [topic] });
      await consumer.run({
        partitionsConsumedConcurrently: 3,
        eachBatch: async ({ batch }) => {
          const rows = batch.messages.map((m) => rowOf(m.value!, batch.partition, Number(m.offset)));
          try {
            await writeBatch(ctx.knex, table, rows, docBytes);
          } catch (err) {
            failure = err;
            throw err;
          }
          progress.add(rows.length);
        },
      });
      await progress.reached(total, this.title).catch((err: unknown) => Promise.reject(failure ?? err));
    } finally {
      await consumer.disconnect();
    }
    return progress.result();
  },
};
