/**
 * The CI gate: ratios of docpipe's default chain to contenders measured in the same run, on
 * the same broker, database and cores, in alternating rounds. Each ratio is the median of the
 * rounds' own ratios (round i of docpipe over round i of the other, which ran next to it), so a
 * round slowed by something else on the machine moves it less than a ratio of two bests does.
 * The thresholds sit between what clean runs of today's docpipe read in CI (0.855-0.867 and
 * 1.305-1.307, on cores it keeps busier than the others do) and what a build slowed by 10% read
 * on a quiet machine (at most 0.858 and 1.267): 0.82 and 1.27, under the 0.85 and 1.3 aimed at,
 * which clean CI runs met by less than 1% (README, Benchmarks, CI gate).
 *
 *   const checks = gateChecks(headline); // [{ against: 'rawPipe', ratio: 0.97, min: 0.9, passed: true, … }, …]
 */
import type { ThroughputResult } from './throughput.js';

export interface GateRule {
  /** The contender docpipe is divided by. */
  against: string;
  /** What the table calls it. */
  name: string;
  min: number;
  /** Checked only when the run has that contender (another build is there only when asked for). */
  optional?: boolean;
}

export const GATE: readonly GateRule[] = [
  // Consume → JSON.parse → prepared INSERT: what is left of docpipe's rate once Kafka and the
  // database are paid for is docpipe's own cost.
  { against: 'rawPipe', name: 'the raw pipe', min: 0.82 },
  { against: 'kafkajs', name: 'KafkaJS', min: 1.27 },
  // Another build in the same rounds (DOCPIPE_BENCH_OTHER_BUILD): the one ratio whose level does
  // not move with the machine, so it can sit close enough to 1 to catch a 10% slowdown.
  { against: 'docpipeOther', name: 'the other build', min: 0.95, optional: true },
];

export interface GateCheck extends GateRule {
  /** Median of the paired rounds' ratios; undefined when either side has no round. */
  ratio: number | undefined;
  /** Each pair's ratio, in round order. */
  rounds: number[];
  passed: boolean;
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};

export const gateChecks = (headline: ThroughputResult | undefined, rules: readonly GateRule[] = GATE): GateCheck[] =>
  rules
    .filter((rule) => !rule.optional || headline?.contenders.some((c) => c.id === rule.against))
    .map((rule) => {
      const docpipe = headline?.contenders.find((c) => c.id === 'docpipe')?.rounds ?? [];
      const other = headline?.contenders.find((c) => c.id === rule.against)?.rounds ?? [];
      // A failed round is not recorded, so pairs are only sure while both have every round.
      const pairs = docpipe.length === other.length ? docpipe.map((d, i) => d / other[i]!) : [];
      const ratio = pairs.length > 0 ? median(pairs) : undefined;
      return { ...rule, ratio, rounds: pairs, passed: ratio !== undefined && ratio >= rule.min };
    });

/** One line per rule, `Gate: …: passed|FAILED`, which CI greps. */
export const gateLines = (checks: readonly GateCheck[]): string[] =>
  checks.map(
    (c) =>
      `Gate: docpipe ÷ ${c.name} = ${c.ratio === undefined ? '–' : c.ratio.toFixed(3)} (median of rounds ${c.rounds.map((r) => r.toFixed(3)).join(', ')}; fails below ${c.min}): ${c.passed ? 'passed' : 'FAILED'}`,
  );
