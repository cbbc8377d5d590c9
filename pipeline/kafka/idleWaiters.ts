/**
 * Waiting, with a time limit, until no record of some partitions (or of any) is in flight: what
 * a revoke waits for before it commits and lets go, and what a drain waits for before closing.
 */
import type { OffsetTracker, TopicPartition } from '../core/offsetTracker.js';

export class IdleWaiters {
  /** Checks waiting for in-flight records to finish. */
  private readonly waiters = new Set<() => void>();

  constructor(private readonly tracker: Pick<OffsetTracker, 'inFlight'>) {}

  /** To be called whenever a record is done. */
  notify(): void {
    // Runs for every done record: copy the set only when someone is actually waiting.
    if (this.waiters.size > 0) for (const w of [...this.waiters]) w();
  }

  /** Resolves true once no record of `tps` (or of any partition) is in flight, false after `timeoutMs`. */
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
        this.waiters.delete(check);
      };
      this.waiters.add(check);
      check();
    });
  }
}
