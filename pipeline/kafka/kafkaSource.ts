/**
 * A Kafka consumer group member exposed as an RxJS Observable of envelopes, pull-based and
 * bounded by an {@link InFlightBudget}: it asks librdkafka for more only while the budget has
 * room, pauses every assigned partition when it is full (and keeps polling, so the member
 * stays in its group), and resumes below the budget's low-water mark.
 *
 * Offsets are never committed by librdkafka itself: records report `done()` to the
 * {@link OffsetTracker}, and the source commits the contiguous done prefix periodically, on
 * revoke and on close. A position counts as committed only once the broker says so; one it
 * refuses (during a rebalance, say) is sent again by the next periodic commit.
 *
 * @example
 * ```ts
 * const budget = new InFlightBudget({ maxRecords: 10_000, maxBytes: 32 << 20, lowWater: 0.5 });
 * const source = new KafkaSource({ brokers: '127.0.0.1:9092', groupId: 'g', topics: ['docs'], budget });
 * source.records().subscribe((e) => {
 *   console.log(e.topic, e.partition, e.offset, e.value?.toString());
 *   e.done();
 * });
 * // later: stop fetching, then commit what is done and leave the group
 * source.stop();
 * await source.close();
 * ```
 */
import Kafka, {
  type KafkaConsumer,
  type LibrdKafkaError,
  type Message,
  type MessageHeader,
} from '@confluentinc/kafka-javascript';
import { Observable, type Subscriber } from 'rxjs';
import type { Logger } from 'pino';
import type { Envelope, KafkaHeader } from '../core/envelope.js';
import type { InFlightBudget } from '../core/inFlightBudget.js';
import { OffsetTracker, type CommitPosition, type TopicPartition } from '../core/offsetTracker.js';
import { repeatThrottle } from '../core/repeatThrottle.js';
import { silentLogger } from '../core/silentLogger.js';
import { connectClient } from './kafkaConnect.js';

export type RdKafkaSettings = Record<string, string | number | boolean>;

export interface KafkaSourceOptions {
  brokers: string;
  groupId: string;
  topics: readonly string[];
  budget: InFlightBudget;
  /** Most records asked of librdkafka in one call. */
  pullBatch?: number;
  /** How long one poll waits for a first record. */
  pollTimeoutMs?: number;
  commitIntervalMs?: number;
  /**
   * How long the budget may stay full before the partitions are paused (default 1 s). Until
   * then the source simply stops asking librdkafka for records, whose own queue is capped;
   * pausing at once would discard that queue and fetch it again after every short burst.
   */
  pauseAfterMs?: number;
  /** How long a revoke waits for the partition's in-flight records before letting go. */
  revokeTimeoutMs?: number;
  /** How long connecting may take before the broker is reported unreachable. */
  connectTimeoutMs?: number;
  /** librdkafka settings, passed through last (so they win). */
  rdkafka?: RdKafkaSettings;
  logger?: Logger;
}

/** Calls the binding has that its type declarations leave out. */
interface ConsumerExtras {
  incrementalAssign(tps: TopicPartition[]): void;
  incrementalUnassign(tps: TopicPartition[]): void;
  assignmentLost(): boolean;
  rebalanceProtocol(): string;
  commitCb(tps: CommitPosition[], cb: (err: LibrdKafkaError | null) => void): void;
  setDefaultIsTimeoutOnlyForFirstMessage(only: boolean): void;
}
type Consumer = KafkaConsumer & ConsumerExtras;

const ERR_ASSIGN_PARTITIONS = -175;
const ERR_REVOKE_PARTITIONS = -174;
const ERR_UNKNOWN_TOPIC = 3;
/** A repeated Kafka client error is logged at most once per this long, with how often it came. */
const ERROR_LOG_WINDOW_MS = 30_000;

/** The broker could not be reached, or refused us, while connecting. */
export { KafkaConnectError } from './kafkaConnect.js';

/** Blanks values of settings whose name says they are secret, in free text. */
export const redactSecrets = (text: string): string =>
  text.replace(/((?:password|secret|token)[\w.]*\s*[=:]\s*)(?!\[redacted\])\S+/gi, '$1[redacted]');

const tpKey = (topic: string, partition: number) => `${partition}\u0000${topic}`;

const toHeaders = (headers: MessageHeader[] | undefined): KafkaHeader[] => {
  if (!headers) return [];
  const out: KafkaHeader[] = [];
  for (const h of headers) {
    for (const [key, value] of Object.entries(h)) {
      out.push({ key, value: Buffer.isBuffer(value) ? value : Buffer.from(String(value)) });
    }
  }
  return out;
};

export class KafkaSource {
  readonly tracker: OffsetTracker;
  private readonly log: Logger;
  private consumer: Consumer | undefined;
  /** Partitions being revoked: their records are no longer emitted. */
  private readonly revoking = new Set<string>();
  /** Callbacks waiting for in-flight records to finish. */
  private readonly idleWaiters = new Set<() => void>();
  private stopRequested = false;
  private closing: Promise<void> | undefined;
  private commitInFlight: Promise<void> | undefined;
  /** Resolves when the poll loop has returned from its last consume call. */
  private loopEnded: Promise<void> = Promise.resolve();
  private paused = false;
  /** Records handed out since start. */
  recordsIn = 0;
  /** When a commit last succeeded (ms since the epoch; 0 = never). */
  lastCommitAt = 0;
  /** Consumer lag per `topic[partition]`, from librdkafka's statistics. */
  readonly lag = new Map<string, { topic: string; partition: number; lag: number }>();

  constructor(private readonly options: KafkaSourceOptions) {
    this.log = (options.logger ?? silentLogger).child({ component: 'source' });
    this.tracker = new OffsetTracker({
      released: (bytes) => {
        options.budget.release(bytes);
        // Runs for every done record: copy the set only when someone is actually waiting.
        if (this.idleWaiters.size > 0) for (const w of [...this.idleWaiters]) w();
      },
    });
  }

  /**
   * Subscribing connects, joins the group and starts pulling. The stream completes after
   * {@link stop}; unsubscribing without `stop` commits what is done and closes the consumer.
   */
  records(): Observable<Envelope<Buffer | null>> {
    return new Observable<Envelope<Buffer | null>>((subscriber) => {
      const offBudget = this.options.budget.onChange((full) => this.onBudgetChange(full));
      this.start(subscriber).catch((err: unknown) => subscriber.error(err));
      return () => {
        offBudget();
        if (!this.stopRequested) void this.close();
      };
    });
  }

  /** Stops fetching; the records stream completes once the current poll returns. */
  stop(): void {
    this.stopRequested = true;
  }

  /** Commits every done offset of owned partitions now. */
  commit(filter?: readonly TopicPartition[]): Promise<void> {
    const consumer = this.consumer;
    if (!consumer) return Promise.resolve();
    const run = async (): Promise<void> => {
      const positions = this.tracker.committable(filter);
      if (positions.length === 0) return;
      // commitCb answers once the commit is queued, not when the broker has taken it: the
      // broker's answer comes to onCommitResult (offset_commit_cb).
      this.tracker.markSent(positions);
      await new Promise<void>((resolve) => {
        consumer.commitCb(positions, (err) => {
          if (err) {
            // Not fatal: the next commit carries the same or a later position.
            this.tracker.markRefused(positions);
            this.log.warn({ err: err.message, positions }, 'offset commit failed');
          }
          resolve();
        });
      });
    };
    // One commit queued at a time, and the revoke path waits for its own to be queued before it
    // unassigns; answers arriving out of order cannot move a position back (the tracker keeps
    // the highest).
    const next = (this.commitInFlight ?? Promise.resolve()).then(run);
    this.commitInFlight = next;
    return next;
  }

  /**
   * The broker's answer to a commit. A refused one (the group was rebalancing, the coordinator
   * moved) is sent again by the next commit, even when nothing new is done by then.
   */
  private onCommitResult(err: LibrdKafkaError | undefined, answered: Partial<CommitPosition>[]): void {
    // librdkafka leaves the offset out of its answer for a partition it had none for.
    const positions = answered.filter((p): p is CommitPosition => typeof p.offset === 'number');
    if (err) {
      this.tracker.markRefused(positions);
      this.log.warn({ err: err.message, positions }, 'offset commit refused; it is sent again with the next commit');
      return;
    }
    this.tracker.markCommitted(positions);
    this.lastCommitAt = Date.now();
    this.log.debug({ positions }, 'committed');
  }

  /** Resolves once no record of `tps` (or of any partition) is in flight, or after `timeoutMs`. */
  whenIdle(timeoutMs: number, tps?: readonly TopicPartition[]): Promise<boolean> {
    return new Promise((resolve) => {
      const check = () => {
        if (this.tracker.inFlight(tps) > 0) return;
        cleanup();
        resolve(true);
      };
      const timer = setTimeout(() => {
        cleanup();
        resolve(false);
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        this.idleWaiters.delete(check);
      };
      this.idleWaiters.add(check);
      check();
    });
  }

  /** Stops fetching, commits what is done, leaves the group and disconnects. Idempotent. */
  close(): Promise<void> {
    this.stopRequested = true;
    this.closing ??= this.doClose();
    return this.closing;
  }

  private async doClose(): Promise<void> {
    const consumer = this.consumer;
    if (!consumer) return;
    await this.loopEnded;
    await this.commit();
    const timer = setInterval(() => {}, 1000); // keeps the event loop alive for the binding's callbacks
    await new Promise<void>((resolve) => {
      const guard = setTimeout(() => {
        this.log.warn('consumer did not disconnect within 15 s; giving up on a clean leave');
        resolve();
      }, 15_000);
      consumer.disconnect(() => {
        clearTimeout(guard);
        resolve();
      });
    });
    clearInterval(timer);
    this.log.info('consumer closed');
  }

  private async start(subscriber: Subscriber<Envelope<Buffer | null>>): Promise<void> {
    const o = this.options;
    // librdkafka overshoots this cap by up to a fetch response per partition: measured here with
    // 6 partitions, a cap of 8 MiB let it hold ~180 MB of prefetched messages, 1 MiB ~40 MB, and
    // consumption ran at the same rate either way. So a thirty-second of the byte budget.
    const queueKBytes = Math.max(256, Math.floor(o.budget.limits.maxBytes / 1024 / 32));
    const consumer = new Kafka.KafkaConsumer(
      {
        'bootstrap.servers': o.brokers,
        'group.id': o.groupId,
        'client.id': 'docpipe',
        'enable.auto.commit': false,
        'enable.auto.offset.store': false,
        'partition.assignment.strategy': 'cooperative-sticky',
        // librdkafka prefetches on its own; cap it so the budget, not librdkafka, bounds memory.
        'queued.max.messages.kbytes': queueKBytes,
        'queued.min.messages': Math.max(1000, o.budget.limits.maxRecords),
        // When that cap is reached librdkafka waits this long before fetching again; its
        // default (1 s) would cut throughput by a factor of ten.
        'fetch.queue.backoff.ms': 10,
        'socket.keepalive.enable': true,
        // Consumer lag per partition for metrics and readiness.
        'statistics.interval.ms': 5000,
        rebalance_cb: (err: LibrdKafkaError, assignment: TopicPartition[]) => this.onRebalance(err, assignment),
        offset_commit_cb: (err: LibrdKafkaError | undefined, positions: Partial<CommitPosition>[]) => this.onCommitResult(err, positions),
        ...o.rdkafka,
      },
      // A topic configuration object replaces librdkafka's defaults for topic-level settings,
      // so auto.offset.reset must be given here, not among the global settings.
      { 'auto.offset.reset': 'earliest' },
    ) as Consumer;
    this.consumer = consumer;
    consumer.on('event.stats', (event: { message: string }) => this.readStats(event.message));
    // librdkafka's own log (with `debug` set, its protocol and config dumps) at debug level.
    // It redacts secrets in its config dumps itself; the pattern below is a second net.
    consumer.on('event.log', (event: { fac: string; message: string }) =>
      this.log.debug({ fac: event.fac }, redactSecrets(event.message)),
    );
    // librdkafka repeats an error on every failed reconnect while a broker is away.
    const passError = repeatThrottle(ERROR_LOG_WINDOW_MS);
    consumer.on('event.error', (err: LibrdKafkaError) => {
      if (err.isFatal) {
        subscriber.error(err);
        return;
      }
      // Transport errors while a broker restarts are expected; librdkafka reconnects.
      const held = passError(`${err.code} ${err.message}`);
      if (held === undefined) return;
      this.log.warn({ code: err.code, err: err.message, ...(held > 0 && { repeatedSinceLast: held }) }, 'kafka client error');
    });
    await connectClient(consumer, o.brokers, o.connectTimeoutMs ?? 10_000);
    consumer.setDefaultConsumeTimeout(o.pollTimeoutMs ?? 100);
    // Without this, consume(n) waits the timeout again for every message it lacks.
    consumer.setDefaultIsTimeoutOnlyForFirstMessage(true);
    consumer.subscribe([...o.topics]);
    this.log.info({ topics: o.topics, groupId: o.groupId }, 'subscribed');

    const commitTimer = setInterval(() => void this.commit(), o.commitIntervalMs ?? 1000);
    let endLoop!: () => void;
    this.loopEnded = new Promise((resolve) => (endLoop = resolve));

    let unknownTopicReported = false;
    const pull = (): void => {
      if (this.stopRequested || this.closing) {
        clearInterval(commitTimer);
        endLoop();
        subscriber.complete();
        return;
      }
      const room = o.budget.room();
      if (room === 0 && !this.paused) {
        void this.waitForRoom(o.pauseAfterMs ?? 1000).then(pull);
        return;
      }
      // While paused, every partition is paused and this poll returns nothing, but it still
      // serves rebalances and keeps this member within max.poll.interval.ms.
      const n = room > 0 ? Math.min(o.pullBatch ?? 1000, room) : 1;
      consumer.consume(n, (err, messages) => {
        if (err?.code === ERR_UNKNOWN_TOPIC) {
          // Said once: a consumer may well be started before its producers create the topic.
          if (!unknownTopicReported) this.log.warn({ topics: o.topics }, 'a subscribed topic does not exist (yet); waiting for it');
          unknownTopicReported = true;
        } else if (err) {
          this.log.warn({ code: err.code, err: err.message }, 'consume failed; polling again');
        } else if (messages.length > 0 && !this.stopRequested) {
          // Claimed against the budget first, then the next poll is started before they are
          // handed on: librdkafka fills it on its own thread while this one decodes and writes.
          const claimed = this.claim(messages);
          pull();
          for (const e of claimed) subscriber.next(e);
          return;
        }
        setImmediate(pull);
      });
    };
    pull();
  }

  private readStats(json: string): void {
    let stats: { topics?: Record<string, { partitions?: Record<string, { consumer_lag?: number }> }> };
    try {
      stats = JSON.parse(json) as typeof stats;
    } catch {
      return;
    }
    this.lag.clear();
    for (const [topic, t] of Object.entries(stats.topics ?? {})) {
      for (const [p, info] of Object.entries(t.partitions ?? {})) {
        const partition = Number(p);
        // -1 is librdkafka's internal "unassigned" partition; lag -1 means unknown.
        if (partition < 0 || info.consumer_lag === undefined || info.consumer_lag < 0) continue;
        if (!this.tracker.owns(topic, partition)) continue;
        this.lag.set(`${topic}[${partition}]`, { topic, partition, lag: info.consumer_lag });
      }
    }
  }

  /** Envelopes for the records still ours to hand out, each counted in the budget and the tracker. */
  private claim(messages: readonly Message[]): Envelope<Buffer | null>[] {
    const out: Envelope<Buffer | null>[] = [];
    let runTopic: string | undefined;
    let runPartition = -1;
    let ours = false;
    for (const m of messages) {
      // A record of a partition we are letting go of is not handed out: the next owner reads it.
      // Records come in runs of one partition, so that is looked up once a run.
      if (m.partition !== runPartition || m.topic !== runTopic) {
        runTopic = m.topic;
        runPartition = m.partition;
        ours = !this.revoking.has(tpKey(m.topic, m.partition)) && this.tracker.owns(m.topic, m.partition);
      }
      if (!ours) continue;
      const value = m.value ?? null;
      const key = m.key === undefined || m.key === null ? null : Buffer.isBuffer(m.key) ? m.key : Buffer.from(m.key);
      const size = (value?.length ?? 0) + (key?.length ?? 0);
      this.options.budget.acquire(size);
      this.recordsIn++;
      const done = this.tracker.handOut(m.topic, m.partition, m.offset, size);
      out.push({
        payload: value,
        value,
        key,
        topic: m.topic,
        partition: m.partition,
        offset: m.offset,
        headers: toHeaders(m.headers),
        timestamp: m.timestamp,
        size,
        done,
      });
    }
    return out;
  }

  /** Resolves when the budget opens again; pauses every partition if that takes `ms`. */
  private waitForRoom(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const off = this.options.budget.onChange((full) => {
        if (full) return;
        clearTimeout(timer);
        off();
        resolve();
      });
      const timer = setTimeout(() => {
        off();
        if (this.options.budget.full) this.setPaused(true);
        resolve();
      }, ms);
    });
  }

  private onBudgetChange(full: boolean): void {
    if (!full && this.paused) this.setPaused(false);
  }

  private setPaused(paused: boolean): void {
    const consumer = this.consumer;
    if (!consumer || paused === this.paused) return;
    const assigned = this.tracker.assigned();
    this.paused = paused;
    try {
      if (paused) consumer.pause(assigned);
      else consumer.resume(assigned);
      this.log.info({ partitions: assigned.length, usage: this.options.budget.usage() }, paused ? 'paused: in-flight budget full' : 'resumed');
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, paused ? 'pause failed' : 'resume failed');
    }
  }

  /** Whether the source has paused its partitions because the budget stayed full. */
  get isPaused(): boolean {
    return this.paused;
  }

  private onRebalance(err: LibrdKafkaError, assignment: TopicPartition[]): void {
    const consumer = this.consumer;
    if (!consumer) return;
    const cooperative = consumer.rebalanceProtocol() === 'COOPERATIVE';
    const tps = assignment.map(({ topic, partition }) => ({ topic, partition }));
    if (err.code === ERR_ASSIGN_PARTITIONS) {
      this.tracker.assign(tps);
      if (cooperative) consumer.incrementalAssign(tps);
      else consumer.assign(tps);
      // Partitions assigned while the budget is full start paused.
      if (this.paused) consumer.pause(tps);
      this.log.info({ partitions: tps }, 'assigned');
    } else if (err.code === ERR_REVOKE_PARTITIONS) {
      void this.revoke(tps, cooperative);
    } else {
      this.log.error({ code: err.code, err: err.message }, 'rebalance error');
    }
  }

  private async revoke(tps: TopicPartition[], cooperative: boolean): Promise<void> {
    const consumer = this.consumer!;
    for (const tp of tps) this.revoking.add(tpKey(tp.topic, tp.partition));
    // A lost assignment (session timed out) is no longer ours to commit; closing already
    // committed everything that was done.
    if (!consumer.assignmentLost() && !this.closing) {
      const idle = await this.whenIdle(this.options.revokeTimeoutMs ?? 10_000, tps);
      if (!idle) {
        this.log.warn({ partitions: tps, inFlight: this.tracker.inFlight(tps) }, 'revoke: in-flight records did not finish in time; the next owner re-reads them');
      }
      await this.commit(tps);
    }
    this.tracker.revoke(tps);
    for (const tp of tps) this.revoking.delete(tpKey(tp.topic, tp.partition));
    try {
      if (cooperative) consumer.incrementalUnassign(tps);
      else consumer.unassign();
    } catch (e) {
      this.log.warn({ err: (e as Error).message }, 'unassign failed');
    }
    this.log.info({ partitions: tps }, 'revoked');
  }
}
