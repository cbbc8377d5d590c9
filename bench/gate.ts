/**
 * The CI gate: ratios of docpipe's default chain to contenders measured in the same run, on
 * the same broker, database and cores, in alternating rounds. Each ratio is the median of the
 * rounds' own ratios (round i of docpipe over round i of the other, which ran next to it), so a
 * round slowed by something else on the machine moves it less than a ratio of two bests does.
 *
 * Two kinds of rule. The raw pipe and KafkaJS ratios (0.85 and 1.3) say docpipe is still worth
 * its cost on any machine, but their level moves with the machine by more than 10% (0.92 and
 * 1.37 on one machine of this kind, 1.09 and 1.72 on another, for builds within 7% of each
 * other), so no fixed threshold on them catches a 10% slowdown everywhere. The baseline build
 * (bench/baseline, run beside docpipe in a scenario of its own) does: docpipe ÷ that build
 * reads 1 on every machine for the same code, and 0.95 sits between clean runs and a build 10%
 * slower (README, Benchmarks, CI gate).
 *
 *   const checks = gateChecks(throughput); // [{ against: 'rawPipe', ratio: 0.97, min: 0.85, passed: true, … }, …]
 */
import type { ThroughputResult } from './throughput.js';

export interface GateRule {
  /** The docpipe contender divided: its default chain in the benchmark's process unless named. */
  subject?: string;
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
  { against: 'rawPipe', name: 'the raw pipe', min: 0.85 },
  { against: 'kafkajs', name: 'KafkaJS', min: 1.3 },
  // The baseline build (DOCPIPE_BENCH_OTHER_BUILD; CI builds bench/baseline's commit): the one
  // ratio whose level does not move with the machine, so it can sit close enough to 1 to catch
  // a 10% slowdown.
  { subject: 'docpipeProcess', against: 'docpipeOtherProcess', name: 'the baseline build', min: 0.95, optional: true },
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

export const gateChecks = (scenarios: readonly ThroughputResult[], rules: readonly GateRule[] = GATE): GateCheck[] => {
  const has = (s: ThroughputResult, id: string) => s.contenders.some((c) => c.id === id);
  return rules
    .filter((rule) => !rule.optional || scenarios.some((s) => has(s, rule.against)))
    .map((rule) => {
      const subject = rule.subject ?? 'docpipe';
      // The first scenario with both: the headline for the raw pipe and KafkaJS.
      const scenario = scenarios.find((s) => has(s, subject) && has(s, rule.against));
      const docpipe = scenario?.contenders.find((c) => c.id === subject)?.rounds ?? [];
      const other = scenario?.contenders.find((c) => c.id === rule.against)?.rounds ?? [];
      // A failed round is not recorded, so pairs are only sure while both have every round.
      const pairs = docpipe.length === other.length ? docpipe.map((d, i) => d / other[i]!) : [];
      const ratio = pairs.length > 0 ? median(pairs) : undefined;
      return { ...rule, ratio, rounds: pairs, passed: ratio !== undefined && ratio >= rule.min };
    });
};

/** One line per rule, `Gate: …: passed|FAILED`, which CI greps. */
export const gateLines = (checks: readonly GateCheck[]): string[] =>
  checks.map(
    (c) =>
      `Gate: docpipe ÷ ${c.name} = ${c.ratio === undefined ? '–' : c.ratio.toFixed(3)} (median of rounds ${c.rounds.map((r) => r.toFixed(3)).join(', ')}; fails below ${c.min}): ${c.passed ? 'passed' : 'FAILED'}`,
  );
