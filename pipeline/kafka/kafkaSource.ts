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
 * This file wires the parts together: the consumer's settings (consumerSettings), the poll
 * loop (pollLoop), pausing on the budget (flowControl), rebalances (rebalance), commits
 * (commits), waiting for in-flight records (idleWaiters) and lag (consumerStats).
 *
 * @example
 * ```ts
 * import { KafkaSource, InFlightBudget } from 'docpipe';
 *
 * const budget = new InFlightBudget({ maxRecords: 10_000, maxBytes: 32 << 20, lowWater: 0.5 });
 * const source = new KafkaSource({ brokers: '127.0.0.1:9092', groupId: 'g', topics: ['docs'], budget });
 * source.records().subscribe((e) => {
 *   console.log(e.topic, e.partition, e.offset, e.value?.toString());
 *   e.done();
 * });
 * // later: stop fetching, then commit what is done and leave the group
 * setTimeout(() => {
 *   source.stop();
 *   void source.close();
 * }, 10_000);
 * ```
 */
import { Observable, type Subscriber } from 'rxjs';
import type { Logger } from 'pino';
import type { Envelope } from '../core/envelope.js';
import type { InFlightBudget } from '../core/inFlightBudget.js';
import { OffsetTracker, type TopicPartition } from '../core/offsetTracker.js';
import { silentLogger } from '../core/silentLogger.js';
import { Commits } from './commits.js';
import { createConsumer, type Consumer, type GroupProtocol, type RdKafkaSettings } from './consumerSettings.js';
import { updateLag, type PartitionLag } from './consumerStats.js';
import { FlowControl } from './flowControl.js';
import { IdleWaiters } from './idleWaiters.js';
import { connectClient } from './kafkaConnect.js';
import { runPollLoop } from './pollLoop.js';
import { Rebalance } from './rebalance.js';

export { redactSecrets, type RdKafkaSettings } from './consumerSettings.js';
/** The broker could not be reached, or refused us, while connecting. */
export { KafkaConnectError } from './kafkaConnect.js';

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
  /**
   * Records of one partition handed out and not yet committable, at most (default 10,000): a
   * partition that reaches it pauses until its oldest record is done.
   */
  maxPartitionRecords?: number;
  /** Static membership: this member's stable id in the group (`group.instance.id`). */
  instanceId?: string;
  /** `classic` (default, cooperative-sticky) or `consumer` (KIP-848). */
  groupProtocol?: GroupProtocol;
  /** librdkafka settings, passed through last (so they win). */
  rdkafka?: RdKafkaSettings;
  logger?: Logger;
}

export class KafkaSource {
  readonly tracker: OffsetTracker;
  /** Records handed out since start. */
  recordsIn = 0;
  /** Consumer lag per `topic[partition]`, from librdkafka's statistics. */
  readonly lag = new Map<string, PartitionLag>();
  private readonly log: Logger;
  private consumer: Consumer | undefined;
  private readonly idle: IdleWaiters;
  private readonly commits: Commits;
  private readonly flow: FlowControl;
  private readonly rebalance: Rebalance;
  private stopRequested = false;
  private closing: Promise<void> | undefined;
  /** Resolves when the poll loop has returned from its last consume call. */
  private loopEnded: Promise<void> = Promise.resolve();

  constructor(private readonly options: KafkaSourceOptions) {
    const log = (options.logger ?? silentLogger).child({ component: 'source' });
    this.log = log;
    this.tracker = new OffsetTracker(
      {
        released: (bytes) => {
          options.budget.release(bytes);
          this.idle.notify();
        },
        limitReached: (stuck) => {
          log.warn(
            { topic: stuck.topic, partition: stuck.partition, offset: stuck.offset, stuckSeconds: Math.round(stuck.seconds), outstanding: stuck.outstanding },
            'partition paused: its oldest record is not done while later ones are (a dead letter its topic refuses? an operator that dropped it without filterRecords?); it resumes when that record is done',
          );
          this.flow.hold(stuck);
        },
        limitCleared: (tp) => {
          log.info({ topic: tp.topic, partition: tp.partition }, 'partition resumed: its oldest record is done');
          this.flow.release(tp);
        },
      },
      { ...(options.maxPartitionRecords !== undefined && { maxOutstanding: options.maxPartitionRecords }) },
    );
    const tracker = this.tracker;
    this.idle = new IdleWaiters(tracker);
    const consumer = () => this.consumer;
    this.commits = new Commits({ consumer, tracker, log });
    this.flow = new FlowControl({ consumer, budget: options.budget, assigned: () => tracker.assigned(), log });
    this.rebalance = new Rebalance({
      consumer,
      tracker,
      whenIdle: (timeoutMs, tps) => this.idle.whenIdle(timeoutMs, tps),
      commit: (tps) => this.commits.commit(tps),
      onAssigned: (tps) => this.flow.onAssigned(tps),
      closing: () => this.closing !== undefined,
      revokeTimeoutMs: options.revokeTimeoutMs ?? 10_000,
      log,
    });
  }

  /** When a commit last succeeded (ms since the epoch; 0 = never). */
  get lastCommitAt(): number {
    return this.commits.lastCommitAt;
  }

  /** Whether the source has paused its partitions because the budget stayed full. */
  get isPaused(): boolean {
    return this.flow.paused;
  }

  /**
   * Subscribing connects, joins the group and starts pulling. The stream completes after
   * {@link stop}; unsubscribing without `stop` commits what is done and closes the consumer.
   */
  records(): Observable<Envelope<Buffer | null>> {
    return new Observable<Envelope<Buffer | null>>((subscriber) => {
      const offBudget = this.flow.watch();
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
    return this.commits.commit(filter);
  }

  /** Resolves once no record of `tps` (or of any partition) is in flight, or after `timeoutMs`. */
  whenIdle(timeoutMs: number, tps?: readonly TopicPartition[]): Promise<boolean> {
    return this.idle.whenIdle(timeoutMs, tps);
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
    const consumer = createConsumer(
      { brokers: o.brokers, groupId: o.groupId, limits: o.budget.limits, instanceId: o.instanceId, groupProtocol: o.groupProtocol, rdkafka: o.rdkafka },
      {
        rebalance: (err, assignment) => this.rebalance.onRebalance(err, assignment),
        commitResult: (err, positions) => this.commits.onCommitResult(err, positions),
        fatal: (err) => subscriber.error(err),
      },
      this.log,
    );
    this.consumer = consumer;
    consumer.on('event.stats', (event: { message: string }) => updateLag(this.lag, event.message, (topic, partition) => this.tracker.owns(topic, partition)));
    await connectClient(consumer, o.brokers, o.connectTimeoutMs ?? 10_000);
    consumer.subscribe([...o.topics]);
    this.log.info({ topics: o.topics, groupId: o.groupId }, 'subscribed');

    const stopCommitting = this.commits.every(o.commitIntervalMs ?? 1000);
    let endLoop!: () => void;
    this.loopEnded = new Promise((resolve) => (endLoop = resolve));
    runPollLoop({
      consumer,
      budget: o.budget,
      flow: this.flow,
      tracker: this.tracker,
      isRevoking: (topic, partition) => this.rebalance.isRevoking(topic, partition),
      stopping: () => this.stopRequested || this.closing !== undefined,
      deliver: (records) => {
        this.recordsIn += records.length;
        for (const e of records) subscriber.next(e);
      },
      ended: () => {
        stopCommitting();
        endLoop();
        subscriber.complete();
      },
      topics: o.topics,
      pullBatch: o.pullBatch ?? 1000,
      pollTimeoutMs: o.pollTimeoutMs ?? 100,
      pauseAfterMs: o.pauseAfterMs ?? 1000,
      log: this.log,
    });
  }
}
