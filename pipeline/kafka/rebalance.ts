/**
 * Group rebalances, cooperative or eager. Assigned partitions are tracked and taken on; revoked
 * ones stop being handed out at once, get a bounded wait for their in-flight records, have what
 * is done committed, and only then are unassigned. A lost assignment is let go without a commit.
 */
import type { LibrdKafkaError } from '@confluentinc/kafka-javascript';
import type { Logger } from 'pino';
import type { OffsetTracker, TopicPartition } from '../core/offsetTracker.js';
import type { Consumer } from './consumerSettings.js';

const ERR_ASSIGN_PARTITIONS = -175;
const ERR_REVOKE_PARTITIONS = -174;

export type RebalanceClient = Pick<Consumer, 'assign' | 'unassign' | 'incrementalAssign' | 'incrementalUnassign' | 'assignmentLost' | 'rebalanceProtocol'>;

export interface RebalanceDeps {
  /** The consumer being rebalanced. */
  consumer: () => RebalanceClient | undefined;
  tracker: Pick<OffsetTracker, 'assign' | 'revoke' | 'inFlight'>;
  /** Resolves true once no record of `tps` is in flight, false after `timeoutMs`. */
  whenIdle(timeoutMs: number, tps: readonly TopicPartition[]): Promise<boolean>;
  /** Commits what is done of `tps`; resolves once the commit is queued. */
  commit(tps: readonly TopicPartition[]): Promise<void>;
  /** Called once partitions are assigned (flow control pauses them if it has paused the rest). */
  onAssigned(tps: TopicPartition[]): void;
  /** Whether the source is closing (closing commits everything that is done itself). */
  closing(): boolean;
  /** How long a revoke waits for the partitions' in-flight records before letting go. */
  revokeTimeoutMs: number;
  log: Logger;
}

const tpKey = (topic: string, partition: number) => `${partition}\u0000${topic}`;

export class Rebalance {
  /** Partitions being revoked: their records are no longer handed out. */
  private readonly revoking = new Set<string>();

  constructor(private readonly deps: RebalanceDeps) {}

  /** Whether the partition is being let go of. */
  isRevoking(topic: string, partition: number): boolean {
    return this.revoking.has(tpKey(topic, partition));
  }

  /** librdkafka's rebalance_cb. */
  onRebalance(err: LibrdKafkaError, assignment: TopicPartition[]): void {
    const consumer = this.deps.consumer();
    if (!consumer) return;
    const { tracker, log } = this.deps;
    const cooperative = consumer.rebalanceProtocol() === 'COOPERATIVE';
    const tps = assignment.map(({ topic, partition }) => ({ topic, partition }));
    if (err.code === ERR_ASSIGN_PARTITIONS) {
      tracker.assign(tps);
      if (cooperative) consumer.incrementalAssign(tps);
      else consumer.assign(tps);
      this.deps.onAssigned(tps);
      log.info({ partitions: tps }, 'assigned');
    } else if (err.code === ERR_REVOKE_PARTITIONS) {
      void this.revoke(consumer, tps, cooperative);
    } else {
      log.error({ code: err.code, err: err.message }, 'rebalance error');
    }
  }

  private async revoke(consumer: RebalanceClient, tps: TopicPartition[], cooperative: boolean): Promise<void> {
    const { tracker, log } = this.deps;
    for (const tp of tps) this.revoking.add(tpKey(tp.topic, tp.partition));
    // A lost assignment (session timed out) is no longer ours to commit; closing already
    // committed everything that was done.
    if (!consumer.assignmentLost() && !this.deps.closing()) {
      const idle = await this.deps.whenIdle(this.deps.revokeTimeoutMs, tps);
      if (!idle) {
        log.warn({ partitions: tps, inFlight: tracker.inFlight(tps) }, 'revoke: in-flight records did not finish in time; the next owner re-reads them');
      }
      await this.deps.commit(tps);
    }
    tracker.revoke(tps);
    for (const tp of tps) this.revoking.delete(tpKey(tp.topic, tp.partition));
    try {
      if (cooperative) consumer.incrementalUnassign(tps);
      else consumer.unassign();
    } catch (e) {
      log.warn({ err: (e as Error).message }, 'unassign failed');
    }
    log.info({ partitions: tps }, 'revoked');
  }
}
