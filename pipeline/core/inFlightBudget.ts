/**
 * One process-wide budget of records and bytes fetched but not yet done. The source asks it
 * how much it may pull; when it is full the source pauses every partition, and resumes once
 * both counts fall below the low-water mark. This is what bounds memory, whatever the backlog
 * in Kafka and however slow the database.
 *
 * @example
 * ```ts
 * import { InFlightBudget } from 'docpipe';
 * const budget = new InFlightBudget({ maxRecords: 1000, maxBytes: 1 << 20, lowWater: 0.5 });
 * budget.acquire(512);
 * budget.room();          // 999 records may still be pulled
 * budget.release(512);
 * ```
 */
export interface BudgetLimits {
  maxRecords: number;
  maxBytes: number;
  /** Fraction of both limits under which a full budget opens again (0 < lowWater < 1). */
  lowWater: number;
}

export class InFlightBudget {
  private records = 0;
  private bytes = 0;
  /** True from the moment a limit is reached until both counts drop below low water. */
  private closed = false;
  private readonly listeners = new Set<(full: boolean) => void>();

  constructor(readonly limits: BudgetLimits) {}

  acquire(bytes: number): void {
    this.records++;
    this.bytes += bytes;
    if (!this.closed && (this.records >= this.limits.maxRecords || this.bytes >= this.limits.maxBytes)) {
      this.closed = true;
      this.emit();
    }
  }

  release(bytes: number): void {
    this.records--;
    this.bytes -= bytes;
    if (this.closed && this.records <= this.limits.maxRecords * this.limits.lowWater && this.bytes <= this.limits.maxBytes * this.limits.lowWater) {
      this.closed = false;
      this.emit();
    }
  }

  /** How many records may be pulled now (0 while the budget is closed). */
  room(): number {
    return this.closed ? 0 : Math.max(0, this.limits.maxRecords - this.records);
  }

  get full(): boolean {
    return this.closed;
  }

  usage(): { records: number; bytes: number } {
    return { records: this.records, bytes: this.bytes };
  }

  /** Called with `true` when the budget fills, `false` when it opens again. */
  onChange(listener: (full: boolean) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit(): void {
    for (const l of this.listeners) l(this.closed);
  }
}
