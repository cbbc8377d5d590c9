/**
 * How every contender's throughput is measured, the same way for all: rows count from the
 * first acknowledged write to the last, so connecting and joining a consumer group (seconds,
 * and the same for everyone) are left out. The rows of that first write are not counted,
 * since the time they took is not either. A timeline of the count feeds the chart.
 */
import { cpuTicks, TICKS_PER_SECOND, type CpuTicks } from './machineCpu.js';

export interface Throughput {
  rows: number;
  seconds: number;
  rowsPerSecond: number;
  /** [ms since the first write, rows so far], every `sampleMs` (100 ms by default). */
  timeline: [number, number][];
  /**
   * The machine's cores busy over the same span, as a fraction of all of them, and the CPU time
   * (all processes) each counted row cost: undefined where it cannot be read (not Linux).
   */
  machineBusy?: number;
  cpuMicrosPerRow?: number;
}

export class Progress {
  /** Rows acknowledged so far. */
  rows = 0;
  /** When the first write was acknowledged, and its rows. */
  private firstAt: number | undefined;
  private firstRows = 0;
  private lastAt = 0;
  private firstCpu: CpuTicks | undefined;
  private lastCpu: CpuTicks | undefined;
  private readonly timeline: [number, number][] = [];
  private sampler: ReturnType<typeof setInterval> | undefined;
  /** Waiters for a row count, resolved as soon as it is reached. */
  private readonly waiters: { rows: number; resolve: () => void }[] = [];
  /** When something last happened, to tell a stuck contender from a slow one. */
  private lastChangeAt = performance.now();

  constructor(private readonly sampleMs = 100) {}

  add(rows: number): void {
    const now = performance.now();
    // Read at every write, so the span is the same one the rate is counted over.
    this.lastCpu = cpuTicks();
    if (this.firstAt === undefined) {
      this.firstCpu = this.lastCpu;
      this.firstAt = now;
      this.firstRows = rows;
      this.timeline.push([0, rows]);
      this.sampler = setInterval(() => this.timeline.push([performance.now() - this.firstAt!, this.rows]), this.sampleMs);
      // A contender that fails never asks for its result; its sampler must not keep the run alive.
      this.sampler.unref();
    }
    this.rows += rows;
    this.lastAt = now;
    this.lastChangeAt = now;
    for (const w of this.waiters) if (this.rows >= w.rows) w.resolve();
  }

  /** Resolves once `rows` rows are acknowledged; rejects after `stallMs` without any progress. */
  reached(rows: number, who: string, stallMs = 60_000): Promise<void> {
    if (this.rows >= rows) return Promise.resolve();
    this.lastChangeAt = performance.now();
    return new Promise((resolve, reject) => {
      const watchdog = setInterval(() => {
        if (performance.now() - this.lastChangeAt < stallMs) return;
        clearInterval(watchdog);
        reject(new Error(`${who}: no progress for ${stallMs / 1000} s at ${this.rows} of ${rows} rows`));
      }, 1000);
      this.waiters.push({
        rows,
        resolve: () => {
          clearInterval(watchdog);
          resolve();
        },
      });
    });
  }

  result(): Throughput {
    clearInterval(this.sampler);
    if (this.firstAt === undefined) return { rows: 0, seconds: 0, rowsPerSecond: 0, timeline: [] };
    const seconds = (this.lastAt - this.firstAt) / 1000;
    this.timeline.push([this.lastAt - this.firstAt, this.rows]);
    const counted = this.rows - this.firstRows;
    const out: Throughput = { rows: this.rows, seconds, rowsPerSecond: seconds > 0 ? counted / seconds : 0, timeline: this.timeline };
    const a = this.firstCpu;
    const b = this.lastCpu;
    if (a && b && b.total > a.total && counted > 0) {
      out.machineBusy = (b.busy - a.busy) / (b.total - a.total);
      out.cpuMicrosPerRow = ((b.busy - a.busy) / TICKS_PER_SECOND / counted) * 1e6;
    }
    return out;
  }
}
