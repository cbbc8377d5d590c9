import t from 'tap';
import { GATE, gateChecks, gateLines } from '../bench/gate.js';
import type { ContenderResult, ThroughputResult } from '../bench/throughput.js';

const contender = (id: string, rounds: number[]): ContenderResult => ({
  id,
  title: id,
  configuration: '',
  documents: 100_000,
  sampled: false,
  database: 'mysql',
  best: undefined,
  rounds,
});

const scenario = (id: string, contenders: ContenderResult[]): ThroughputResult => ({
  id,
  title: id,
  docBytes: 1024,
  partitions: 6,
  documents: 100_000,
  contenders,
});

const headline = scenario('headline', [contender('rawPipe', [100, 100, 100]), contender('docpipe', [90, 80, 120]), contender('kafkajs', [60, 60, 60])]);

t.test('each ratio is the median of the paired rounds, not a ratio of bests', async (t) => {
  const [raw, kafkajs] = gateChecks([headline]);
  t.same(raw?.rounds, [0.9, 0.8, 1.2]);
  t.equal(raw?.ratio, 0.9, 'median 0.9, where best over best would read 1.2');
  t.equal(raw?.passed, true);
  t.equal(kafkajs?.ratio, 1.5);
  t.equal(kafkajs?.passed, true);
});

t.test('the baseline rule is checked only when its contender ran, process against process, in whichever scenario has it', async (t) => {
  t.same(
    gateChecks([headline]).map((c) => c.against),
    ['rawPipe', 'kafkajs'],
    'no baseline build, no baseline rule',
  );
  const beside = scenario('baseline', [contender('docpipeProcess', [100, 93, 94, 96, 120]), contender('docpipeOtherProcess', [100, 100, 100, 100, 100])]);
  const checks = gateChecks([headline, beside]);
  const baseline = checks.find((c) => c.against === 'docpipeOtherProcess');
  t.equal(checks.find((c) => c.against === 'rawPipe')?.ratio, 0.9, 'the raw pipe still read from the headline');
  t.equal(baseline?.ratio, 0.96);
  t.equal(baseline?.passed, true, `0.96 ≥ ${GATE.find((r) => r.against === 'docpipeOtherProcess')?.min}`);
  const slowed = scenario('baseline', [contender('docpipeProcess', [90, 91, 89]), contender('docpipeOtherProcess', [100, 100, 100])]);
  const failed = gateChecks([headline, slowed]).find((c) => c.against === 'docpipeOtherProcess');
  t.equal(failed?.passed, false, 'a build 10% slower than the baseline fails');
  t.match(gateLines([failed!])[0], /^Gate: docpipe ÷ the baseline build = 0\.900 .*: FAILED$/);
});

t.test('a required rule with nothing to divide fails rather than passes', async (t) => {
  const onlyBaseline = scenario('baseline', [contender('docpipeProcess', [100]), contender('docpipeOtherProcess', [100])]);
  const raw = gateChecks([onlyBaseline]).find((c) => c.against === 'rawPipe');
  t.equal(raw?.ratio, undefined);
  t.equal(raw?.passed, false);
  const lost = scenario('headline', [contender('rawPipe', [100, 100]), contender('docpipe', [100]), contender('kafkajs', [60, 60])]);
  t.equal(gateChecks([lost])[0]?.passed, false, 'a round missing on one side leaves no sure pairs');
});
