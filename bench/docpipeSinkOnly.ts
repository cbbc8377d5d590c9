/**
 * A diagnostic, not a contender users would pick: docpipe's own sink (`MysqlSink.write`, the
 * guarded upsert) fed with ready-made envelopes, with no Kafka, decoding or validation. Set
 * beside the raw sink and the full chain, it splits docpipe's gap to the ceiling into what
 * the sink costs and what everything upstream of it costs. The batches are shaped as the
 * default chain's are: 1,000 records of one partition each, 3 written at once.
 */
import { createKnex } from '../pipeline/createPipeline.js';
import type { Envelope } from '../pipeline/envelope.js';
import type { Document } from '../operators/validate.js';
import { MysqlSink } from '../sinks/mysqlSink.js';
import type { Contender, RunInput } from './contender.js';
import { makeDocuments } from './documents.js';
import { Progress, type Throughput } from './progress.js';

const BATCH_RECORDS = 1000;
const IN_FLIGHT = 3;

/** Envelopes as validate() hands them on, partition and offset as a round-robin producer gives them. */
const envelopes = (total: number, docBytes: number, partitions: number): Envelope<Document>[][] => {
  const byPartition: Envelope<Document>[][] = Array.from({ length: partitions }, () => []);
  makeDocuments(total, docBytes).forEach((d, i) => {
    const partition = i % partitions;
    byPartition[partition]!.push({
      payload: { doc_id: BigInt(d.doc_id), title: d.title, body: d.body, url: d.url },
      topic: 'bench',
      partition,
      offset: Math.floor(i / partitions),
      key: null,
      value: null,
      headers: [],
      timestamp: undefined,
      size: docBytes,
      done: () => {},
    });
  });
  const batches: Envelope<Document>[][] = [];
  for (let from = 0; from < Math.ceil(total / partitions); from += BATCH_RECORDS) {
    for (const records of byPartition) if (from < records.length) batches.push(records.slice(from, from + BATCH_RECORDS));
  }
  return batches;
};

export const docpipeSinkOnly: Contender = {
  id: 'docpipeSink',
  title: "diagnostic: docpipe's sink alone, no Kafka",
  configuration: `MysqlSink.write (guarded upsert) on batches of ${BATCH_RECORDS} records of one partition, ${IN_FLIGHT} at once, envelopes built in advance`,
  writes: true,
  async run({ ctx, table, total, docBytes, partitions }: RunInput): Promise<Throughput> {
    const batches = envelopes(total, docBytes, partitions);
    const knex = createKnex(ctx.db, IN_FLIGHT + 1);
    try {
      const sink = await MysqlSink.open(knex, { table });
      const progress = new Progress();
      let next = 0;
      const worker = async () => {
        for (let i = next++; i < batches.length; i = next++) {
          const { written, rejected } = await sink.write(batches[i]!);
          if (rejected.length > 0) throw new Error(`docpipe's sink refused ${rejected.length} rows: ${rejected[0]!.rejection.message}`);
          progress.add(written);
        }
      };
      await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
      return progress.result();
    } finally {
      await knex.destroy();
    }
  },
};
