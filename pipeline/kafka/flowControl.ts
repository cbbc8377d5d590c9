/**
 * Flow control on the in-flight budget: once it has stayed full for a while every assigned
 * partition is paused (polling goes on, so the member stays in its group), and they are all
 * resumed when the budget opens again. Partitions assigned while paused start paused.
 */
import type { KafkaConsumer } from '@confluentinc/kafka-javascript';
import type { Logger } from 'pino';
import type { InFlightBudget } from '../core/inFlightBudget.js';
import type { TopicPartition } from '../core/offsetTracker.js';

export type PausableClient = Pick<KafkaConsumer, 'pause' | 'resume'>;

export interface FlowControlDeps {
  budget: InFlightBudget;
  /** The consumer whose partitions are paused; nothing is paused before there is one. */
  consumer: () => PausableClient | undefined;
  /** The partitions currently assigned. */
  assigned: () => TopicPartition[];
  log: Logger;
}

/** What the poll loop needs of flow control. */
export interface RoomGate {
  readonly paused: boolean;
  waitForRoom(ms: number): Promise<void>;
}

export class FlowControl implements RoomGate {
  private isPaused = false;

  constructor(private readonly deps: FlowControlDeps) {}

  /** Whether the partitions are paused because the budget stayed full. */
  get paused(): boolean {
    return this.isPaused;
  }

  /** Resumes the partitions whenever the budget opens again; returns the way to stop. */
  watch(): () => void {
    return this.deps.budget.onChange((full) => {
      if (!full && this.isPaused) this.setPaused(false);
    });
  }

  /** Resolves when the budget opens again; pauses every partition if that takes `ms`. */
  waitForRoom(ms: number): Promise<void> {
    const { budget } = this.deps;
    return new Promise((resolve) => {
      const off = budget.onChange((full) => {
        if (full) return;
        clearTimeout(timer);
        off();
        resolve();
      });
      const timer = setTimeout(() => {
        off();
        if (budget.full) this.setPaused(true);
        resolve();
      }, ms);
    });
  }

  /** Newly assigned partitions: paused at once while the budget is full. */
  onAssigned(tps: TopicPartition[]): void {
    if (this.isPaused) this.deps.consumer()?.pause(tps);
  }

  private setPaused(paused: boolean): void {
    const consumer = this.deps.consumer();
    if (!consumer || paused === this.isPaused) return;
    const assigned = this.deps.assigned();
    this.isPaused = paused;
    try {
      if (paused) consumer.pause(assigned);
      else consumer.resume(assigned);
      this.deps.log.info({ partitions: assigned.length, usage: this.deps.budget.usage() }, paused ? 'paused: in-flight budget full' : 'resumed');
    } catch (err) {
      this.deps.log.warn({ err: (err as Error).message }, paused ? 'pause failed' : 'resume failed');
    }
  }
}
