/**
 * Committing the offset tracker's done prefix: on demand and periodically, one commit queued at
 * a time. A position counts as committed only once the broker says so (offset_commit_cb); one it
 * refuses is sent again by the next commit.
 */
import type { LibrdKafkaError } from '@confluentinc/kafka-javascript';
import type { Logger } from 'pino';
import type { CommitPosition, OffsetTracker, TopicPartition } from '../core/offsetTracker.js';
import type { Consumer } from './consumerSettings.js';

export type CommitClient = Pick<Consumer, 'commitCb'>;

export interface CommitsDeps {
  /** The consumer to commit through; nothing is committed before there is one. */
  consumer: () => CommitClient | undefined;
  tracker: Pick<OffsetTracker, 'committable' | 'markSent' | 'markRefused' | 'markCommitted'>;
  log: Logger;
}

export class Commits {
  private queued: Promise<void> | undefined;
  private committedAt = 0;

  constructor(private readonly deps: CommitsDeps) {}

  /** When a commit last succeeded (ms since the epoch; 0 = never). */
  get lastCommitAt(): number {
    return this.committedAt;
  }

  /** Commits every done offset of owned partitions (of `filter`, if given). */
  commit(filter?: readonly TopicPartition[]): Promise<void> {
    const consumer = this.deps.consumer();
    if (!consumer) return Promise.resolve();
    const { tracker, log } = this.deps;
    const run = async (): Promise<void> => {
      const positions = tracker.committable(filter);
      if (positions.length === 0) return;
      // commitCb answers once the commit is queued, not when the broker has taken it: the
      // broker's answer comes to onCommitResult (offset_commit_cb).
      tracker.markSent(positions);
      await new Promise<void>((resolve) => {
        consumer.commitCb(positions, (err) => {
          if (err) {
            // Not fatal: the next commit carries the same or a later position.
            tracker.markRefused(positions);
            log.warn({ err: err.message, positions }, 'offset commit failed');
          }
          resolve();
        });
      });
    };
    // One commit queued at a time, and the revoke path waits for its own to be queued before it
    // unassigns; answers arriving out of order cannot move a position back (the tracker keeps
    // the highest).
    const next = (this.queued ?? Promise.resolve()).then(run);
    this.queued = next;
    return next;
  }

  /** Commits every `intervalMs` until the returned function is called. */
  every(intervalMs: number): () => void {
    const timer = setInterval(() => void this.commit(), intervalMs);
    return () => clearInterval(timer);
  }

  /**
   * The broker's answer to a commit. A refused one (the group was rebalancing, the coordinator
   * moved) is sent again by the next commit, even when nothing new is done by then.
   */
  onCommitResult(err: LibrdKafkaError | undefined, answered: Partial<CommitPosition>[]): void {
    const { tracker, log } = this.deps;
    // librdkafka leaves the offset out of its answer for a partition it had none for.
    const positions = answered.filter((p): p is CommitPosition => typeof p.offset === 'number');
    if (err) {
      tracker.markRefused(positions);
      log.warn({ err: err.message, positions }, 'offset commit refused; it is sent again with the next commit');
      return;
    }
    tracker.markCommitted(positions);
    this.committedAt = Date.now();
    log.debug({ positions }, 'committed');
  }
}
