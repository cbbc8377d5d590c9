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
  /** Partitions held at their limit of records outstanding, by key: they stay paused whatever the budget does. */
  private readonly held = new Map<string, TopicPartition>();

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
    // A new assignment starts with new bookkeeping: nothing of it is held.
    for (const tp of tps) this.held.delete(`${tp.partition}\u0000${tp.topic}`);
    if (this.isPaused) this.deps.consumer()?.pause(tps);
  }

  /** Pauses one partition until {@link release}: its oldest record holds everything behind it. */
  hold(tp: TopicPartition): void {
    const key = `${tp.partition}\u0000${tp.topic}`;
    if (this.held.has(key)) return;
    this.held.set(key, { topic: tp.topic, partition: tp.partition });
    this.tryPause([this.held.get(key)!]);
  }

  release(tp: TopicPartition): void {
    const key = `${tp.partition}\u0000${tp.topic}`;
    const held = this.held.get(key);
    if (!held) return;
    this.held.delete(key);
    if (!this.isPaused) this.tryResume([held]);
  }

  /** Partitions that are held. */
  holding(): TopicPartition[] {
    const assigned = new Set(this.deps.assigned().map((tp) => `${tp.partition}\u0000${tp.topic}`));
    return [...this.held.entries()].filter(([key]) => assigned.has(key)).map(([, tp]) => tp);
  }

  private tryPause(tps: TopicPartition[]): void {
    try {
      this.deps.consumer()?.pause(tps);
    } catch (err) {
      this.deps.log.warn({ err: (err as Error).message }, 'pause failed');
    }
  }

  private tryResume(tps: TopicPartition[]): void {
    try {
      this.deps.consumer()?.resume(tps);
    } catch (err) {
      // A partition revoked meanwhile cannot be resumed; it is not ours to read any more.
      this.deps.log.debug({ err: (err as Error).message }, 'resume failed');
    }
  }

  private setPaused(paused: boolean): void {
    const consumer = this.deps.consumer();
    if (!consumer || paused === this.isPaused) return;
    const assigned = this.deps.assigned();
    this.isPaused = paused;
    try {
      if (paused) consumer.pause(assigned);
      // Held partitions stay paused: the budget is not what holds them.
      else consumer.resume(assigned.filter((tp) => !this.held.has(`${tp.partition}\u0000${tp.topic}`)));
      this.deps.log.info({ partitions: assigned.length, usage: this.deps.budget.usage() }, paused ? 'paused: in-flight budget full' : 'resumed');
    } catch (err) {
      this.deps.log.warn({ err: (err as Error).message }, paused ? 'pause failed' : 'resume failed');
    }
  }
}
