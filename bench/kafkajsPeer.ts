/**
 * Peer (b): KafkaJS 2.2.4, the pure-JavaScript client, with `eachBatch` and one knex batch
 * upsert per fetch batch. KafkaJS's defaults (1 MiB per partition, 10 MiB per fetch),
 * offsets resolved after the batch is written and auto-committed by KafkaJS, and
 * `partitionsConsumedConcurrently: 3`, the number of batches docpipe writes at once.
 */
import kafkajs from 'kafkajs';
import type { Contender, RunInput } from './contender.js';
import { Progress, type Throughput } from './progress.js';
import { uniqueName } from '../test/helpers/stack.js';
import { rowOf, writeBatch } from './peerWrites.js';

const { Kafka, logLevel } = kafkajs;

export const kafkajsPeer: Contender = {
  id: 'kafkajs',
  title: 'peer (b): KafkaJS 2.2.4 eachBatch + knex batch upsert',
  configuration:
    'KafkaJS defaults (maxBytesPerPartition 1 MiB, maxBytes 10 MiB), eachBatch with auto-resolve and auto-commit, partitionsConsumedConcurrently 3, one upsert per fetch batch (2 MiB statements)',
  writes: true,
  async run({ ctx, topic, table, total, docBytes }: RunInput): Promise<Throughput> {
    const kafka = new Kafka({ clientId: 'bench-kafkajs', brokers: ctx.brokers.split(','), logLevel: logLevel.NOTHING });
    const consumer = kafka.consumer({ groupId: uniqueName('bench_kafkajs') });
    const progress = new Progress();
    let failure: unknown;
    await consumer.connect();
    try {
      await consumer.subscribe({ topics: [topic], fromBeginning: true });
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
