/**
 * How big each run is. `full` is what the published figures come from (minutes); `ci` is
 * the same set of scenarios cut down to run in a couple of minutes and still give ratios
 * that mean something; `quick` is for trying a change.
 *
 *   node dist/bench/run.js --profile quick   # profiles.quick
 */
export interface ThroughputScenario {
  id: string;
  title: string;
  docBytes: number;
  partitions: number;
  documents: number;
  /** The PostgreSQL contenders too (the raw pg ceiling and docpipe into PostgreSQL). */
  postgres?: boolean;
  /** docpipe as a process, with the memory bound as shipped and without it. */
  processes?: boolean;
  /** Only these contenders (by id), instead of every one. */
  lineup?: readonly string[];
  /** Alternating rounds, instead of the profile's. */
  rounds?: number;
  /** Left out when a contender of its lineup is not there (another build runs only when named). */
  optional?: boolean;
}

export interface Profile {
  name: string;
  throughput: ThroughputScenario[];
  /** Alternating rounds of every contender; the best round of each counts. */
  rounds: number;
  /** Documents upstream's one-INSERT-per-message algorithm is given. */
  upstreamSample: number;
  stalled: { backlog: number; stallSeconds: number; drainSeconds: number } | undefined;
  latency: { ratePerSecond: number; seconds: number } | undefined;
}

const headline = (documents: number, postgres: boolean, processes = false): ThroughputScenario => ({
  id: '1kb-6p',
  title: '1 KB documents, 6 partitions (headline)',
  docBytes: 1024,
  partitions: 6,
  documents,
  postgres,
  processes,
});

export const profiles: Record<string, Profile> = {
  full: {
    name: 'full',
    throughput: [
      headline(100_000, true, true),
      { id: '1kb-1p', title: '1 KB documents, 1 partition', docBytes: 1024, partitions: 1, documents: 100_000 },
      { id: '200b-6p', title: '200 B documents, 6 partitions', docBytes: 200, partitions: 6, documents: 200_000 },
      { id: '20kb-6p', title: '20 KB documents, 6 partitions', docBytes: 20 * 1024, partitions: 6, documents: 10_000 },
      // 500,000 rows of 1 KB outgrow MariaDB's buffer pool (128 MiB by default): every writer is
      // then bound by the database's I/O, and the write pattern decides.
      {
        id: '1kb-6p-500k',
        title: '1 KB documents, 6 partitions, a table past the buffer pool',
        docBytes: 1024,
        partitions: 6,
        documents: 500_000,
        lineup: ['rawSink', 'rawSinkPrepared', 'rawPipe', 'docpipe'],
      },
    ],
    rounds: 3,
    upstreamSample: 3_000,
    stalled: { backlog: 1_000_000, stallSeconds: 60, drainSeconds: 20 },
    latency: { ratePerSecond: 5_000, seconds: 30 },
  },
  ci: {
    name: 'ci',
    // As many documents as the full run's headline: with fewer, a round is over before the
    // database's flushing settles and the rounds scatter.
    // Only what the gate divides. docpipe against the baseline build has a scenario of its own,
    // each build as shipped, a process a round: in this process the two builds' chains read
    // 0.96-1.07 over runs of 41 rounds of the same code, each run keeping its own JIT and heap
    // luck through every round, and beside the raw pipe and KafkaJS one of them followed KafkaJS
    // every other round and paid for what that left behind (10% in one run).
    throughput: [
      { ...headline(100_000, false), lineup: ['rawPipe', 'docpipe', 'kafkajs'] },
      {
        ...headline(100_000, false),
        id: '1kb-6p-baseline',
        title: '1 KB documents, 6 partitions: docpipe beside the baseline build',
        lineup: ['docpipeProcess', 'docpipeOtherProcess'],
        rounds: 31,
        optional: true,
      },
    ],
    // The gate takes the median of the rounds' paired ratios: nine pairs scatter less than five.
    rounds: 9,
    upstreamSample: 1_000,
    stalled: { backlog: 100_000, stallSeconds: 10, drainSeconds: 5 },
    latency: { ratePerSecond: 1_000, seconds: 10 },
  },
  quick: {
    name: 'quick',
    throughput: [headline(30_000, true, true)],
    rounds: 2,
    upstreamSample: 1_000,
    stalled: undefined,
    latency: undefined,
  },
};
