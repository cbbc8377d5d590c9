/**
 * The shape every measured contender has — ceilings, peers and docpipe — so the runner can
 * run them alternately on the same topic and check each one's rows the same way.
 */
import type { BenchContext } from './context.js';
import type { Throughput } from './progress.js';

export interface RunInput {
  ctx: BenchContext;
  /** A topic already holding `total` documents. */
  topic: string;
  partitions: number;
  total: number;
  docBytes: number;
  /** A fresh, empty `input_data`-shaped table for this run alone, in the contender's database. */
  table: string;
}

export interface Contender {
  /** Key in the results (JSON and table). */
  readonly id: string;
  /** What the table calls it. */
  readonly title: string;
  /** Its configuration, in a sentence: what makes the comparison fair. */
  readonly configuration: string;
  /** Whether it writes rows (the raw source does not, so its table is not checked). */
  readonly writes: boolean;
  /** The database its table is in: the benchmark's MariaDB unless it says PostgreSQL. */
  readonly database?: 'postgresql';
  /**
   * Documents it is given when it is too slow for the whole topic (it reads the first ones);
   * undefined: all of them.
   */
  readonly sample?: (total: number) => number;
  run(input: RunInput): Promise<Throughput>;
  /**
   * Peak resident set of its last round where it runs in a process of its own; undefined: it
   * runs in the benchmark's process, whose peak is taken instead.
   */
  lastPeakRssBytes?(): number | undefined;
  /** Anything else it measured along the way, for the JSON results (the raw sink's sweep). */
  details?(): unknown;
}
