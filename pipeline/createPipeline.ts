/**
 * The default chain — Kafka source → decode → validate → (your operator) → encode text as
 * UTF-8 → batch → bulk upsert → commit — with its resources (consumer, dead-letter producer,
 * connection pool) and a graceful stop: stop fetching, drain in-flight batches within a
 * deadline, commit, leave the group, close the pool. Into MySQL and without an operator of
 * yours, decoding, validating and encoding run on a worker thread
 * (`decodeDocumentsInWorker`).
 *
 * @example
 * ```ts
 * import { createPipeline } from 'docpipe';
 * const pipeline = await createPipeline({
 *   kafka: { brokers: '127.0.0.1:9092', groupId: 'docpipe', topics: ['documents'] },
 *   db: { host: '127.0.0.1', port: 3306, user: 'docpipe', password: 'docpipe', database: 'docpipe' },
 * });
 * process.once('SIGTERM', () => void pipeline.stop());
 * await pipeline.done; // rejects on a fatal error, after committing what is done
 * ```
 */
import { filter, merge, share, type Observable, type OperatorFunction } from 'rxjs';
import type { Logger } from 'pino';
import type { Envelope } from './core/envelope.js';
import type { DeadLetter } from './core/rejections.js';
import { InFlightBudget, type BudgetLimits } from './core/inFlightBudget.js';
import { KafkaSource, type RdKafkaSettings } from './kafka/kafkaSource.js';
import type { StuckRecord } from './core/offsetTracker.js';
import type { GroupProtocol } from './kafka/consumerSettings.js';
import { silentLogger } from './core/silentLogger.js';
import { openDatabase, type Database } from '../sinks/database.js';
import { batch, type BatchOptions } from '../operators/batch.js';
import { bulkInsert, type BatchWritten } from '../operators/bulkInsert.js';
import { decodeJson } from '../operators/decodeJson.js';
import { validate, type Document } from '../operators/validate.js';
import { SqlSink, type SqlSinkOptions } from '../sinks/sqlSink.js';
import { INPUT_DATA, type InputDataDocument } from '../sinks/inputDataMapping.js';
import { readPath, type TableMapping } from '../sinks/tableMapping.js';
import type { TableRoute } from '../sinks/tableRoute.js';
import { encodeDocuments, type EncodedDocument } from '../operators/encodeDocuments.js';
import { decodeDocumentsInWorker } from '../operators/decodeDocumentsInWorker.js';
import { decodeDeletes } from '../operators/decodeDeletes.js';
import { parseVersion, type Deletion } from './core/documentVersion.js';
import type { DeadLetterWriter } from '../sinks/deadLetterWriter.js';
import { openDeadLetterWriter } from './openDeadLetterWriter.js';
import { StopState } from './stopState.js';
import { watchForDrops } from './dropWatch.js';

export interface PipelineConfig {
  kafka: {
    brokers: string;
    groupId: string;
    topics: readonly string[];
    /** librdkafka settings for the consumer and the dead-letter producer (SASL, SSL, …). */
    rdkafka?: RdKafkaSettings;
    /** Dead-letter topic for a source topic (default `<topic>.dlq`). */
    deadLetterTopic?: (topic: string) => string;
    /**
     * Static membership: a stable id for this member (a StatefulSet pod's or a compose
     * service's host name), so that a restarted member takes its partitions back at once.
     */
    instanceId?: string;
    /** `classic` (default: cooperative-sticky assignment) or `consumer` (KIP-848, the broker assigns). */
    groupProtocol?: GroupProtocol;
  };
  /**
   * A MySQL/MariaDB server, `{ client: 'postgresql', … }` for PostgreSQL, or
   * `{ client: 'sqlite', filename }` for an embedded SQLite file.
   */
  db: Database;
  /** The table; a name with `${topic}` in it writes each topic to its own table (default `input_data`). */
  table?: TableRoute<unknown>;
  /**
   * Your documents into your table: the key, the columns and where each comes from. Without
   * it, documents are docpipe's own (`doc_id`, `title`, `body`, `url`) into `input_data`'s
   * shape. With it, records are decoded as JSON objects and the mapping checks them.
   */
  mapping?: TableMapping<Record<string, unknown>>;
  autoMigrate?: boolean;
  /** Records and bytes fetched but not done, process-wide. */
  budget?: Partial<BudgetLimits>;
  /** Records of one partition handed out and not yet committable, at most (default 10,000); see KafkaSource. */
  maxPartitionRecords?: number;
  batch?: BatchOptions;
  /** Batches written at once (default 2). */
  sinkConcurrency?: number;
  commitIntervalMs?: number;
  revokeTimeoutMs?: number;
  /** How long a graceful stop may take before in-flight work is abandoned (default 30 s). */
  drainTimeoutMs?: number;
  retry?: { initialDelayMs?: number; maxDelayMs?: number; maxRetries?: number };
  /** How long the database may fail a batch with transient errors before the pipeline stops (default 5 minutes). */
  outageTimeoutMs?: number;
  /**
   * An operator of yours, run on validated documents before batching. It is given the
   * pipeline's dead-letter writer for records it refuses.
   */
  transform?: (context: { deadLetter: DeadLetter }) => OperatorFunction<Envelope<Document>, Envelope<Document>>;
  /**
   * Decode, check and encode documents on a worker thread (default true; MySQL without a
   * `transform` only, where the chain is docpipe's own from end to end).
   */
  decodeInWorker?: boolean;
  /**
   * Tombstones delete their document (default false: they are dead-lettered). A deleted
   * document's row stays as a marker (`deleted_at` set) with the delete's version, so that an
   * older version arriving later cannot bring it back.
   */
  deletes?: boolean;
  /**
   * A field of the document that holds its own version (an integer or an RFC 3339 timestamp):
   * it alone decides which version is newer, whatever topic, partition or order it comes in.
   * A document without it is dead-lettered; a tombstone carries it in a header of that name.
   */
  versionField?: string;
  /** Called after each batch is written (for metrics). */
  onBatch?: (result: BatchWritten) => void;
  logger?: Logger;
}

export interface PipelineStats {
  recordsIn: number;
  recordsWritten: number;
  /** Records not written because their document already had a newer version. */
  recordsStale: number;
  /** The same, by topic. */
  staleByTopic: ReadonlyMap<string, number>;
  rowsWritten: number;
  deadLettered: number;
  batches: number;
  inFlight: { records: number; bytes: number };
  paused: boolean;
  assignedPartitions: number;
  /** Consumer lag per partition, as librdkafka last reported it. */
  lag: { topic: string; partition: number; lag: number }[];
  lastCommitAt: number;
  /** When a batch was last written (or the pipeline started). */
  lastProgressAt: number;
  /** Partitions whose oldest record has not been done for a second or more while later ones are. */
  stuck: StuckRecord[];
}

export interface Pipeline {
  /** Resolves once stopped cleanly; rejects with the fatal error that stopped it. */
  readonly done: Promise<void>;
  /** Graceful stop; resolves with `done`. A second call forces the stop now. */
  stop(): Promise<void>;
  stats(): PipelineStats;
  readonly source: KafkaSource;
  /**
   * True when a stop went on without waiting for the Kafka clients or the pool to close. Such
   * a client can still block the process's exit (librdkafka's consumer close waits out the
   * session timeout when the broker is gone), so a process should then end without the usual
   * exit path — `docpipe run` does.
   */
  readonly abandonedClients: boolean;
}

/** How long a record may hold its partition's commit back before the log names it. */
const STUCK_REPORT_AFTER_S = 30;

/** How long past the drain deadline closing the clients may take before the stop goes on without them. */
const RELEASE_GRACE_MS = 2_000;

// A record costs memory several times its payload (value, decoded text, encoded copy, statement
// packet), so the record count bounds memory as much as the bytes do; 5,000 still feeds three
// 1,000-record batches in flight.
export const DEFAULT_BUDGET: BudgetLimits = { maxRecords: 5_000, maxBytes: 32 * 1024 * 1024, lowWater: 0.5 };

export const createPipeline = async (config: PipelineConfig): Promise<Pipeline> => {
  const log = (config.logger ?? silentLogger).child({ component: 'pipeline' });
  const concurrency = config.sinkConcurrency ?? 3;
  const knex = openDatabase(config.db, concurrency + 1);
  const { versionField, mapping } = config;
  let sink: SqlSink<InputDataDocument> | SqlSink<Record<string, unknown>>;
  let dlq: DeadLetterWriter;
  try {
    const common = {
      ...(config.table !== undefined && { table: config.table }),
      ...(config.autoMigrate !== undefined && { autoMigrate: config.autoMigrate }),
      ...(config.retry && { retry: config.retry }),
      ...(config.outageTimeoutMs !== undefined && { outageTimeoutMs: config.outageTimeoutMs }),
      ...(config.logger && { logger: config.logger }),
      topics: config.kafka.topics,
      versionRule: versionField === undefined ? ('position' as const) : ('external' as const),
    };
    if (mapping) {
      const versionPath = versionField?.split('.') ?? [];
      const options: SqlSinkOptions<Record<string, unknown>> = {
        ...common,
        mapping,
        // The version is read where the mapping reads the rest: refused with its field named.
        ...(versionField !== undefined && { versionOf: (doc: Record<string, unknown>) => parseVersion(readPath(doc, versionPath), versionField, 'map') }),
      };
      sink = await SqlSink.open(knex, options);
    } else {
      sink = await SqlSink.open<InputDataDocument>(knex, { ...common, mapping: INPUT_DATA });
    }
    dlq = await openDeadLetterWriter({
      brokers: config.kafka.brokers,
      ...(config.kafka.deadLetterTopic && { topicFor: config.kafka.deadLetterTopic }),
      ...(config.kafka.rdkafka && { rdkafka: config.kafka.rdkafka }),
      ...(config.logger && { logger: config.logger }),
    });
  } catch (err) {
    await knex.destroy();
    throw err;
  }

  const budget = new InFlightBudget({ ...DEFAULT_BUDGET, ...config.budget });
  const source = new KafkaSource({
    brokers: config.kafka.brokers,
    groupId: config.kafka.groupId,
    topics: config.kafka.topics,
    budget,
    ...(config.commitIntervalMs !== undefined && { commitIntervalMs: config.commitIntervalMs }),
    ...(config.revokeTimeoutMs !== undefined && { revokeTimeoutMs: config.revokeTimeoutMs }),
    ...(config.kafka.rdkafka && { rdkafka: config.kafka.rdkafka }),
    ...(config.kafka.instanceId !== undefined && { instanceId: config.kafka.instanceId }),
    ...(config.maxPartitionRecords !== undefined && { maxPartitionRecords: config.maxPartitionRecords }),
    ...(config.kafka.groupProtocol !== undefined && { groupProtocol: config.kafka.groupProtocol }),
    ...(config.logger && { logger: config.logger }),
  });

  const stats = { recordsWritten: 0, recordsStale: 0, rowsWritten: 0, deadLettered: 0, batches: 0 };
  const staleByTopic = new Map<string, number>();
  let lastProgressAt = Date.now();
  const deadLetter = dlq.send;
  const countingDeadLetter: typeof deadLetter = (record, rejection) => {
    stats.deadLettered++;
    deadLetter(record, rejection);
  };

  const writing = { deadLetter: countingDeadLetter, concurrency };
  // With deletes on, tombstones leave the stream before decoding and join it again as deletes
  // before batching; the order between them does not matter, the version rule decides.
  const records = config.deletes ? source.records().pipe(share()) : source.records();
  const values = config.deletes ? records.pipe(filter((e) => e.value !== null)) : records;
  const withDeletes = <T>(documents: Observable<Envelope<T>>): Observable<Envelope<T | Deletion>> =>
    config.deletes
      ? merge(
          documents,
          records.pipe(
            filter((e) => e.value === null),
            decodeDeletes({ deadLetter: countingDeadLetter, versionField, anyKey: mapping !== undefined }),
          ),
        )
      : documents;
  const chain = ((): Observable<BatchWritten> => {
    if (mapping) {
      // Your documents: JSON objects, exact where a mapped 64-bit column reads a top-level field.
      const generic = sink as SqlSink<Record<string, unknown>>;
      const exactIntegers = [
        ...Object.entries(mapping.columns).flatMap(([name, c]) => (c.type === 'bigint' && typeof c.from !== 'function' ? [c.from ?? name] : [])),
        ...(versionField === undefined ? [] : [versionField]),
      ].filter((f) => !f.includes('.'));
      const decoded = values.pipe(decodeJson({ deadLetter: countingDeadLetter, exactIntegers }));
      const final = config.transform
        ? decoded.pipe(
            watchForDrops(
              config.transform({ deadLetter: countingDeadLetter }) as unknown as OperatorFunction<
                Envelope<Record<string, unknown>>,
                Envelope<Record<string, unknown>>
              >,
              log,
            ),
          )
        : decoded;
      return withDeletes(final).pipe(batch<Record<string, unknown> | Deletion>(config.batch), bulkInsert(generic, writing));
    }
    const own = sink as SqlSink<InputDataDocument>;
    const mysql = own.dialect.name === 'mysql';
    // With nothing of the user's between decoding and writing, a worker thread decodes,
    // checks and encodes, and the main thread keeps the rest (see decodeDocumentsInWorker);
    // for the drivers that bind strings, the sink turns the bytes back into text.
    if (!config.transform && config.decodeInWorker !== false && versionField === undefined) {
      return withDeletes(values.pipe(decodeDocumentsInWorker({ deadLetter: countingDeadLetter }))).pipe(
        batch<EncodedDocument | Deletion>(config.batch),
        bulkInsert(own, writing),
      );
    }
    const exactIntegers = versionField === undefined ? undefined : ['doc_id', versionField];
    const documents = values.pipe(
      decodeJson({ deadLetter: countingDeadLetter, ...(exactIntegers && { exactIntegers }) }),
      validate({ deadLetter: countingDeadLetter, versionField }),
    );
    // An operator of the user's is watched for records it drops without marking them done.
    const final = config.transform ? documents.pipe(watchForDrops(config.transform({ deadLetter: countingDeadLetter }), log)) : documents;
    // For MySQL the text is encoded once, before batching, and waits for the database off the
    // JavaScript heap (see encodeDocuments); the other drivers take strings.
    return mysql
      ? withDeletes(final.pipe(encodeDocuments())).pipe(batch<EncodedDocument | Deletion>(config.batch), bulkInsert(own, writing))
      : withDeletes(final).pipe(batch<Document | Deletion>(config.batch), bulkInsert(own, writing));
  })();

  const drainTimeoutMs = config.drainTimeoutMs ?? 30_000;
  const state = new StopState();
  /** When a graceful stop must be over; set by the first stop request. */
  let deadline = Infinity;
  let released: Promise<void> | undefined;
  let abandonedClients = false;
  const release = (): Promise<void> =>
    (released ??= (async () => {
      await source.close();
      await dlq.close();
      await knex.destroy();
    })());
  /**
   * Closes the consumer, the dead-letter producer and the pool, waiting for them until
   * `by` and a short grace at most: with the broker down, librdkafka's consumer close never
   * returns. What was done is committed before that close; what was not is read again by the
   * next run.
   */
  const releaseBy = async (by: number): Promise<void> => {
    if (by === Infinity) return release();
    let timer: NodeJS.Timeout | undefined;
    const gaveUp = await Promise.race([
      release().then(() => false),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), Math.max(0, by - Date.now()) + RELEASE_GRACE_MS))),
    ]);
    clearTimeout(timer);
    abandonedClients ||= gaveUp;
    if (gaveUp) log.warn('Kafka clients or the pool did not close by the deadline (is a server unreachable?); stopping without waiting for them');
  };

  let resolveDone!: () => void;
  let rejectDone!: (err: unknown) => void;
  const done = new Promise<void>((resolve, reject) => {
    resolveDone = resolve;
    rejectDone = reject;
  });
  // Keeps `done` from counting as unhandled before the caller awaits it.
  done.catch(() => {});

  const onFatal = (err: unknown): void => {
    if (!state.move('failing')) return;
    log.error({ err: err instanceof Error ? err.message : String(err) }, 'fatal error; committing what is done and stopping');
    source.stop();
    void releaseBy(Date.now() + drainTimeoutMs).finally(() => {
      state.move('stopped');
      rejectDone(err);
    });
  };

  /** The chain has ended after a stop: dead letters may still be on their way to Kafka. */
  const onChainEnd = async (): Promise<void> => {
    if (!state.move('finishing')) return;
    const drained = await dlq.drain(Math.max(0, deadline - Date.now()));
    if (!drained || !(await source.whenIdle(Math.max(0, deadline - Date.now())))) {
      log.warn({ inFlight: source.tracker.inFlight() }, 'drain deadline passed; undone records are left for the next run');
    }
    if (!state.move('releasing')) return; // abandoned meanwhile
    await releaseBy(deadline);
    if (!state.move('stopped')) return;
    log.info(stats, 'pipeline stopped');
    resolveDone();
  };

  // Abandons in-flight work; done offsets are still committed, undone ones are re-read later.
  const abandon = (why: string): void => {
    if (!state.move('abandoning')) return;
    log.warn({ inFlight: source.tracker.inFlight() }, `${why}: abandoning in-flight batches`);
    subscription.unsubscribe();
    void releaseBy(Date.now()).finally(() => {
      state.move('stopped');
      resolveDone();
    });
  };

  // A record that never finishes holds its partition's commit back while later ones complete:
  // named in the log every minute it lasts (a dead letter the topic refuses, a write retrying,
  // an operator that dropped it without filterRecords).
  const stuckReported = new Map<string, number>();
  const stuckWatch = setInterval(() => {
    const now = Date.now();
    for (const s of source.tracker.stuck(STUCK_REPORT_AFTER_S, now)) {
      const key = `${s.topic}[${s.partition}]@${s.offset}`;
      if (now - (stuckReported.get(key) ?? 0) < 60_000) continue;
      stuckReported.set(key, now);
      log.warn(
        { topic: s.topic, partition: s.partition, offset: s.offset, stuckSeconds: Math.round(s.seconds), outstanding: s.outstanding, held: s.held },
        'a record is not done while later records of its partition are: the commit waits for it (is a write retrying, a dead letter refused, or did an operator drop it without filterRecords?)',
      );
    }
    if (stuckReported.size > 1000) stuckReported.clear();
  }, 10_000);
  stuckWatch.unref();
  void done.finally(() => clearInterval(stuckWatch)).catch(() => {});

  const subscription = chain.subscribe({
    next: (r) => {
      stats.batches++;
      stats.recordsWritten += r.records - r.rejected - r.stale - r.revoked;
      stats.recordsStale += r.stale;
      for (const [topic, n] of r.staleByTopic) staleByTopic.set(topic, (staleByTopic.get(topic) ?? 0) + n);
      stats.rowsWritten += r.written;
      if (r.revoked > 0) log.warn({ records: r.revoked }, 'a batch retrying for revoked partitions was given up; their next owner writes them');
      lastProgressAt = Date.now();
      config.onBatch?.(r);
      log.debug({ records: r.records, rows: r.written, rejected: r.rejected, ms: Math.round(r.ms) }, 'batch written');
    },
    error: onFatal,
    complete: () => void onChainEnd().catch(onFatal),
  });

  const settled = done.catch(() => {});
  const stop = (): Promise<void> => {
    if (state.move('draining')) {
      log.info({ drainTimeoutMs }, 'stopping: draining in-flight batches');
      deadline = Date.now() + drainTimeoutMs;
      source.stop();
      const timer = setTimeout(() => {
        if (state.phase === 'draining') abandon('drain deadline passed');
      }, drainTimeoutMs);
      void settled.finally(() => clearTimeout(timer));
    } else {
      // A second request abandons in-flight work now.
      abandon('second stop request');
    }
    return settled;
  };

  return {
    done,
    stop,
    source,
    get abandonedClients() {
      return abandonedClients;
    },
    stats: () => ({
      ...stats,
      staleByTopic,
      recordsIn: source.recordsIn,
      inFlight: budget.usage(),
      paused: source.isPaused,
      assignedPartitions: source.tracker.assigned().length,
      lag: [...source.lag.values()],
      lastCommitAt: source.lastCommitAt,
      lastProgressAt,
      stuck: source.tracker.stuck(1),
    }),
  };
};
