/**
 * Prometheus metrics (prom-client) and health endpoints on one HTTP port:
 * - `/metrics`: records in, written, dead-lettered; batches; batch write latency; in-flight
 *   records and bytes; paused; consumer lag per partition; seconds since the last commit.
 * - `/healthz`: the process is alive (always 200 while it serves).
 * - `/readyz`: 200 when partitions are assigned and the pipeline is making progress, or is
 *   idle with nothing to do (no lag, nothing in flight); 503 with the reason otherwise.
 *
 * @example
 * ```ts
 * const ops = createOperations();
 * const pipeline = await createPipeline({ ...config, onBatch: ops.observeBatch });
 * const server = await ops.listen(9464, () => pipeline.stats());
 * ```
 */
import { createServer, type Server } from 'node:http';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { BatchWritten } from '../../operators/bulkInsert.js';
import type { PipelineStats } from '../createPipeline.js';

/** How long without a written batch, while there is work, before /readyz says "stalled". */
export const STALL_AFTER_MS = 60_000;

export interface Readiness {
  ready: boolean;
  reason: string;
}

export const readiness = (s: PipelineStats, now = Date.now()): Readiness => {
  if (s.assignedPartitions === 0) return { ready: false, reason: 'no partitions assigned' };
  const stuck = s.stuck.filter((r) => r.seconds * 1000 >= STALL_AFTER_MS);
  if (stuck.length > 0) {
    const named = stuck.map(
      (r) =>
        `${r.topic}[${r.partition}]@${r.offset} not done for ${Math.round(r.seconds)} s, ${r.outstanding} records behind it${r.held ? ', partition paused' : ''}`,
    );
    return { ready: false, reason: `stuck: ${named.join('; ')}` };
  }
  const lag = s.lag.reduce((sum, p) => sum + p.lag, 0);
  if (lag === 0 && s.inFlight.records === 0) return { ready: true, reason: 'idle: no lag' };
  if (now - s.lastProgressAt <= STALL_AFTER_MS) return { ready: true, reason: 'making progress' };
  return { ready: false, reason: `no batch written for ${Math.round((now - s.lastProgressAt) / 1000)} s with ${lag} records of lag` };
};

export const createOperations = () => {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'docpipe_' });
  let stats: () => PipelineStats = () => {
    throw new Error('operations server not started');
  };
  // Counters mirror the pipeline's own running totals at scrape time.
  const mirror = (name: string, help: string, pick: (s: PipelineStats) => number) =>
    new Counter({
      name,
      help,
      registers: [registry],
      collect() {
        this.reset();
        this.inc(pick(stats()));
      },
    });
  const gauge = (name: string, help: string, pick: (s: PipelineStats) => number) =>
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        this.set(pick(stats()));
      },
    });
  mirror('docpipe_records_in_total', 'Records fetched from Kafka and handed to the chain', (s) => s.recordsIn);
  mirror('docpipe_records_written_total', 'Records durably written to the table', (s) => s.recordsWritten);
  new Counter({
    name: 'docpipe_records_stale_total',
    help: 'Records not written because the table already held a newer version of their document',
    labelNames: ['topic'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [topic, n] of stats().staleByTopic) this.inc({ topic }, n);
    },
  });
  mirror('docpipe_records_dead_lettered_total', 'Records sent to the dead-letter topic', (s) => s.deadLettered);
  mirror('docpipe_batches_total', 'Batches written', (s) => s.batches);
  gauge('docpipe_inflight_records', 'Records fetched and not yet done', (s) => s.inFlight.records);
  gauge('docpipe_inflight_bytes', 'Bytes fetched and not yet done', (s) => s.inFlight.bytes);
  gauge('docpipe_paused', '1 while the source has paused its partitions', (s) => (s.paused ? 1 : 0));
  gauge('docpipe_assigned_partitions', 'Partitions assigned to this member', (s) => s.assignedPartitions);
  gauge('docpipe_seconds_since_last_commit', 'Seconds since offsets were last committed (-1: never)', (s) =>
    s.lastCommitAt ? (Date.now() - s.lastCommitAt) / 1000 : -1,
  );
  new Gauge({
    name: 'docpipe_consumer_lag',
    help: 'Records behind the end of the partition',
    labelNames: ['topic', 'partition'],
    registers: [registry],
    collect() {
      this.reset();
      for (const p of stats().lag) this.set({ topic: p.topic, partition: String(p.partition) }, p.lag);
    },
  });
  new Gauge({
    name: 'docpipe_partition_stuck_seconds',
    help: 'How long the oldest record of a partition has not been done while later ones are (only partitions stuck a second or more)',
    labelNames: ['topic', 'partition'],
    registers: [registry],
    collect() {
      this.reset();
      for (const r of stats().stuck) this.set({ topic: r.topic, partition: String(r.partition) }, r.seconds);
    },
  });
  const batchSeconds = new Histogram({
    name: 'docpipe_batch_write_seconds',
    help: 'Time to write one batch, retries included',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });

  return {
    registry,
    observeBatch: (r: BatchWritten) => batchSeconds.observe(r.ms / 1000),
    listen: (port: number, source: () => PipelineStats, host = '0.0.0.0'): Promise<Server> => {
      stats = source;
      const server = createServer((req, res) => {
        void (async () => {
          if (req.url === '/metrics') {
            res.writeHead(200, { 'content-type': registry.contentType });
            res.end(await registry.metrics());
          } else if (req.url === '/healthz') {
            res.writeHead(200, { 'content-type': 'text/plain' });
            res.end('ok\n');
          } else if (req.url === '/readyz') {
            const r = readiness(stats());
            res.writeHead(r.ready ? 200 : 503, { 'content-type': 'text/plain' });
            res.end(`${r.reason}\n`);
          } else {
            res.writeHead(404, { 'content-type': 'text/plain' });
            res.end('try /metrics, /healthz or /readyz\n');
          }
        })().catch((err: unknown) => {
          res.writeHead(500);
          res.end(String(err));
        });
      });
      return new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => resolve(server));
      });
    },
  };
};
