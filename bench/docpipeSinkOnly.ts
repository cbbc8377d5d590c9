/**
 * A diagnostic, not a contender users would pick: docpipe's own sink (`SqlSink.write` with the default mapping, the
 * guarded upsert) fed with ready-made envelopes, their text already UTF-8 as `encodeDocuments`
 * leaves it in the default chain, with no Kafka, decoding, validation or encoding. Set
 * beside the raw sink and the full chain, it splits docpipe's gap to the ceiling into what
 * the sink costs and what everything upstream of it costs. The batches are shaped as the
 * default chain's are: 1,000 records of one partition each, 3 written at once.
 */
import { from, lastValueFrom, toArray } from 'rxjs';
import { createKnex } from '../sinks/createKnex.js';
import type { Envelope } from '../pipeline/core/envelope.js';
import { encodeDocuments, type EncodedDocument } from '../operators/encodeDocuments.js';
import { SqlSink } from '../sinks/sqlSink.js';
import { INPUT_DATA, type InputDataDocument } from '../sinks/inputDataMapping.js';
import type { Contender, RunInput } from './contender.js';
import { makeDocuments } from './documents.js';
import { Progress, type Throughput } from './progress.js';

const BATCH_RECORDS = 1000;
const IN_FLIGHT = 3;

/** Envelopes as encodeDocuments() hands them on, partition and offset as a round-robin producer gives them. */
const envelopes = async (total: number, docBytes: number, partitions: number): Promise<Envelope<EncodedDocument>[][]> => {
  const documents = makeDocuments(total, docBytes).map((d, i) => {
    const partition = i % partitions;
    return {
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
    };
  });
  const byPartition: Envelope<EncodedDocument>[][] = Array.from({ length: partitions }, () => []);
  for (const e of await lastValueFrom(from(documents).pipe(encodeDocuments(), toArray()))) byPartition[e.partition]!.push(e);
  const batches: Envelope<EncodedDocument>[][] = [];
  for (let from = 0; from < Math.ceil(total / partitions); from += BATCH_RECORDS) {
    for (const records of byPartition) if (from < records.length) batches.push(records.slice(from, from + BATCH_RECORDS));
  }
  return batches;
};

export const docpipeSinkOnly: Contender = {
  id: 'docpipeSink',
  title: "diagnostic: docpipe's sink alone, no Kafka",
  configuration: `SqlSink.write (guarded upsert, input_data mapping) on batches of ${BATCH_RECORDS} records of one partition, ${IN_FLIGHT} at once, envelopes built and their text encoded in advance`,
  writes: true,
  async run({ ctx, table, total, docBytes, partitions }: RunInput): Promise<Throughput> {
    const batches = await envelopes(total, docBytes, partitions);
    const knex = createKnex(ctx.db, IN_FLIGHT + 1);
    try {
      const sink = await SqlSink.open<InputDataDocument>(knex, { mapping: INPUT_DATA, table });
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
