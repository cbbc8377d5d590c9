/**
 * End-to-end latency: documents produced at a fixed rate to a topic that `docpipe run` (a
 * child process, so the producer does not share its event loop) is already consuming.
 * Latency is from the moment the bench hands a document to the producer until the database
 * stamped its row (`updated_at`, set by the INSERT statement; the transaction commits a few
 * milliseconds later). Both clocks are this machine's wall clock.
 */
import Kafka from '@confluentinc/kafka-javascript';
import type { BenchContext } from './context.js';
import { startDocpipe } from './docpipeProcess.js';
import { makeDocument, toMessage } from './documents.js';
import { uniqueName } from '../test/helpers/stack.js';
import { disconnectProducer } from '../pipeline/kafka/disconnectProducer.js';

export interface LatencySettings {
  ratePerSecond: number;
  seconds: number;
  docBytes: number;
  partitions: number;
}

export interface LatencyResult extends LatencySettings {
  documents: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** The rate actually achieved by the producer. */
  producedPerSecond: number;
}

const percentile = (sorted: readonly number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? 0;

export const latency = async (ctx: BenchContext, s: LatencySettings): Promise<LatencyResult> => {
  const topic = await ctx.topicWithDocuments('bench_latency', s.partitions, 0, s.docBytes);
  const table = await ctx.freshTable('latency');
  const count = Math.round(s.ratePerSecond * s.seconds);
  const producer = new Kafka.Producer({ 'bootstrap.servers': ctx.brokers, 'enable.idempotence': true, log_level: 0 });
  await new Promise<void>((ok, fail) => producer.connect({ timeout: 10_000 }, (e) => (e ? fail(e) : ok())));
  producer.setPollInterval(50);
  const send = (id: number) => {
    const m = toMessage(makeDocument(id, s.docBytes));
    producer.produce(topic, null, Buffer.from(m.value as string), m.key);
  };
  const docpipe = startDocpipe(ctx, { DOCPIPE_TOPICS: topic, DOCPIPE_GROUP_ID: uniqueName('bench_latency'), DOCPIPE_TABLE: table });
  const countRows = async () => {
    const [rows] = (await ctx.knex.raw('SELECT COUNT(*) AS n FROM ??', [table])) as [[{ n: number | string }]];
    return Number(rows[0].n);
  };
  const waitForRows = async (n: number, seconds: number) => {
    const until = Date.now() + seconds * 1000;
    while ((await countRows()) < n) {
      if (Date.now() > until) throw new Error(`latency: docpipe wrote fewer than ${n} rows within ${seconds} s`);
      if (docpipe.child.exitCode !== null) throw new Error(`latency: docpipe exited early (code ${docpipe.child.exitCode})`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  try {
    // One document first (id -1), so that the group join is over before the clock starts.
    send(-1);
    await waitForRows(1, 60);
    const producedAt = new Float64Array(count);
    const started = Date.now();
    let sent = 0;
    // Every few milliseconds, send what the rate says is due by now: a steady rate whatever
    // the timer's jitter.
    while (sent < count) {
      const due = Math.min(count, Math.floor(((Date.now() - started) / 1000) * s.ratePerSecond));
      for (; sent < due; sent++) {
        producedAt[sent] = Date.now();
        send(sent);
      }
      await new Promise((r) => setTimeout(r, 2));
    }
    const producedPerSecond = count / ((Date.now() - started) / 1000);
    await new Promise<void>((ok, fail) => producer.flush(10_000, (e) => (e ? fail(e) : ok())));
    await waitForRows(count + 1, 60);
    const [rows] = (await ctx.knex.raw('SELECT doc_id, UNIX_TIMESTAMP(updated_at) * 1000 AS at FROM ?? WHERE doc_id >= 0', [table])) as [
      { doc_id: string; at: string | number }[],
    ];
    const latencies = rows.map((r) => Number(r.at) - producedAt[Number(r.doc_id)]!).sort((a, b) => a - b);
    return {
      ...s,
      documents: latencies.length,
      p50Ms: percentile(latencies, 50),
      p99Ms: percentile(latencies, 99),
      maxMs: latencies.at(-1) ?? 0,
      producedPerSecond,
    };
  } finally {
    await docpipe.stop();
    await disconnectProducer(producer);
    await ctx.dropTable(table);
  }
};
