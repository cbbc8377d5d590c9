/**
 * Runs the benchmark scenarios side by side on the same broker and database and reports every
 * figure as a ratio to the ceilings and peers measured in the same run: absolute figures on
 * shared machines drift too much to mean anything alone.
 *
 *   node dist/bench/run.js                      # the full run (npm run bench)
 *   node dist/bench/run.js --profile ci --gate
 *   node dist/bench/run.js --profile quick
 *   node --cpu-prof dist/bench/run.js --profile quick --only docpipe   # profile one contender
 *
 * Writes bench/results/<time>-<profile>.{json,md,svg}. With `--gate` it exits 1 when docpipe's
 * default chain falls below a ratio of gate.ts to the raw pipe or to KafkaJS in the headline
 * scenario, or docpipe's command below one to the baseline build's (when
 * DOCPIPE_BENCH_OTHER_BUILD names it); no absolute time and no other target fails it. `--scenario ID` runs one throughput
 * scenario of the profile. A contender or scenario that breaks is reported in the results and
 * the run goes on; exit 2 only when the gate cannot be computed (a contender it divides
 * produced no figure) or the run itself could not start.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { openContext } from './context.js';
import { profiles } from './profiles.js';
import { RawSink } from './rawSink.js';
import { RawPostgresSink } from './rawPostgresSink.js';
import { rawSource } from './rawSource.js';
import { RawPipe } from './rawPipe.js';
import { upstreamPeer } from './upstreamPeer.js';
import { kafkajsPeer } from './kafkajsPeer.js';
import { confluentKafkaJsPeer } from './confluentKafkaJsPeer.js';
import { docpipeCustom, docpipeDefault, docpipePostgres } from './docpipeChain.js';
import { otherBuild } from './otherBuild.js';
import { docpipeSinkOnly } from './docpipeSinkOnly.js';
import { docpipeShipped, docpipeUnbounded } from './docpipeProcess.js';
import { runThroughput, type ThroughputResult } from './throughput.js';
import { stalledSink, type StalledSinkResult } from './stalledSink.js';
import { latency, type LatencyResult } from './latency.js';
import { describeEnvironment, projectRoot } from './environment.js';
import {
  ceilingRatios,
  ceilingsSection,
  checkTargets,
  cpuBudgetSection,
  latencySection,
  memoryBoundSection,
  scenarioTable,
  stalledSection,
  targetsSection,
  TARGETS,
} from './report.js';
import { rates, renderChart, type Panel } from './chart.js';
import { DEFAULT_BUDGET } from '../pipeline/createPipeline.js';
import { gateChecks, gateLines } from './gate.js';

const { values: args } = parseArgs({
  options: {
    profile: { type: 'string', default: 'full' },
    gate: { type: 'boolean', default: false },
    /** One throughput scenario of the profile, by id. */
    scenario: { type: 'string' },
    /** Alternating rounds, instead of the profile's. */
    rounds: { type: 'string' },
    /** Documents in each throughput scenario, instead of the profile's. */
    documents: { type: 'string' },
    /** Comma-separated contender ids; throughput scenarios only. */
    only: { type: 'string' },
    out: { type: 'string', default: resolve(projectRoot, 'bench/results') },
  },
});
const listedProfile = profiles[args.profile];
if (!listedProfile) throw new Error(`--profile must be one of ${Object.keys(profiles).join(', ')}`);
const profile = args.rounds === undefined ? listedProfile : { ...listedProfile, rounds: Number(args.rounds) };
const only = args.only?.split(',');

const started = Date.now();
const log = (line: string) => console.log(`[${((Date.now() - started) / 1000).toFixed(0).padStart(4)} s] ${line}`);
const ctx = await openContext();
let exitCode = 0;
try {
  const environment = await describeEnvironment(ctx.knex);
  log(
    `profile ${profile.name}: ${environment.machine.cpus} × ${environment.machine.cpuModel}, node ${environment.versions.node}, librdkafka ${environment.versions.librdkafka}, MariaDB ${environment.versions.mariadb}, Kafka ${environment.versions.kafkaBroker}`,
  );

  // A scenario that fails is reported and the run goes on: only the gate decides the exit code.
  const failures: Record<string, string> = {};
  const failed = (scenario: string) => (err: unknown) => {
    failures[scenario] = err instanceof Error ? err.message : String(err);
    log(`${scenario}: FAILED: ${failures[scenario]}`);
    return undefined;
  };
  const throughput: ThroughputResult[] = [];
  const scenarios = args.scenario === undefined ? profile.throughput : profile.throughput.filter((s) => s.id === args.scenario);
  if (scenarios.length === 0) throw new Error(`--scenario must be one of ${profile.throughput.map((s) => s.id).join(', ')}`);
  // Loaded once, at its first round, whatever the scenario.
  const others = otherBuild();
  for (const listed of scenarios) {
    const scenario = args.documents === undefined ? listed : { ...listed, documents: Number(args.documents) };
    // A ceiling sweep per scenario: the best statement size depends on the document size.
    const prepared = new RawSink('prepared');
    // The raw pipe inserts the way the prepared sink does (at a fixed setting of its own).
    const all = [
      new RawSink(),
      prepared,
      rawSource,
      new RawPipe(prepared),
      docpipeSinkOnly,
      docpipeDefault,
      ...others,
      docpipeCustom,
      kafkajsPeer,
      confluentKafkaJsPeer,
      upstreamPeer(profile.upstreamSample),
      ...(listed.postgres ? [new RawPostgresSink(), docpipePostgres] : []),
      ...(listed.processes ? [docpipeShipped, docpipeUnbounded] : listed.lineup?.includes(docpipeShipped.id) ? [docpipeShipped] : []),
    ];
    const missing = listed.lineup?.filter((id) => !all.some((c) => c.id === id)) ?? [];
    if (listed.optional && missing.length > 0) {
      log(`${listed.title}: left out, no ${missing.join(', ')} in this run`);
      continue;
    }
    // `--only` picks contenders for the scenarios that are always there; an optional one runs
    // with it only when `--scenario` names it.
    if (listed.optional && only && args.scenario === undefined) continue;
    const chosen = only ?? listed.lineup;
    const contenders = chosen ? all.filter((c) => chosen.includes(c.id)) : all;
    const rounds = args.rounds === undefined ? (listed.rounds ?? profile.rounds) : profile.rounds;
    throughput.push(await runThroughput(ctx, scenario, contenders, rounds, log));
  }
  const headline = throughput[0];

  let stalled: StalledSinkResult | undefined;
  const everything = !only && args.scenario === undefined;
  if (profile.stalled && everything) {
    log(`memory: ${profile.stalled.backlog.toLocaleString('en-US')} documents of backlog, sink stalled ${profile.stalled.stallSeconds} s…`);
    stalled = await stalledSink(ctx, { ...profile.stalled, docBytes: 1024, partitions: 6, budgetBytes: DEFAULT_BUDGET.maxBytes }).catch(failed('memory'));
  }
  let lat: LatencyResult | undefined;
  if (profile.latency && everything) {
    log(`latency: ${profile.latency.ratePerSecond}/s for ${profile.latency.seconds} s…`);
    lat = await latency(ctx, { ...profile.latency, docBytes: 1024, partitions: 6 }).catch(failed('latency'));
  }

  const targets = checkTargets(headline, stalled, lat);
  const checks = args.gate ? gateChecks(throughput) : [];
  const budget = headline && cpuBudgetSection(headline, environment.machine.cpus);
  const ratios = headline && ceilingRatios(headline);
  // Opened already by its contenders; a server that was down has no version to give.
  const postgresVersion = ratios?.postgresql
    ? await ctx.postgres().then(
        (p) => p.version,
        () => undefined,
      )
    : undefined;
  const versions = { ...environment.versions, ...(postgresVersion !== undefined && { postgresql: postgresVersion }) };
  const databaseNames = { mysql: `MariaDB ${versions.mariadb}`, postgresql: `PostgreSQL ${postgresVersion ?? '(unreachable)'}` };
  const ceilings = headline && ceilingsSection(headline, databaseNames);
  const memoryBound = headline && memoryBoundSection(headline);
  const pgRatio = ratios?.postgresql?.ratio;
  const when = new Date(started).toISOString();
  const result = {
    when,
    profile: profile.name,
    command: `node dist/bench/run.js ${process.argv.slice(2).join(' ')}`.trim(),
    seconds: (Date.now() - started) / 1000,
    ...environment,
    versions,
    configuration: { profile, targets: TARGETS, gate: args.gate },
    throughput,
    stalledSink: stalled,
    latency: lat,
    /** docpipe ÷ the raw ceiling of its database, headline scenario; reported, not gated. */
    ceilingRatios: ratios,
    targetChecks: targets,
    gate: args.gate ? checks : undefined,
    failures,
  };

  const markdown = [
    `## docpipe benchmark — ${profile.name} run, ${when}`,
    '',
    `${environment.machine.cpus} × ${environment.machine.cpuModel}, ${Math.round(environment.machine.memoryBytes / 2 ** 30)} GiB; node ${environment.versions.node}, librdkafka ${environment.versions.librdkafka}, KafkaJS ${environment.versions.kafkajs}, MariaDB ${environment.versions.mariadb}${postgresVersion === undefined ? '' : `, PostgreSQL ${postgresVersion}`}, Kafka ${environment.versions.kafkaBroker}. Rows/s count from each contender's first acknowledged write to its last; best of ${profile.rounds} alternating rounds; every table's row count checked. Sampled peers read only the first documents of the topic (one round) and are reported as rows/s.`,
    '',
    ...throughput.flatMap((s) => [scenarioTable(s), '']),
    ...(ceilings ? [ceilings, ''] : []),
    ...(memoryBound ? [memoryBound, ''] : []),
    ...(budget ? [budget, ''] : []),
    ...(stalled ? [stalledSection(stalled), ''] : []),
    ...(lat ? [latencySection(lat), ''] : []),
    targetsSection(targets),
    '',
    ...Object.entries(failures).map(([scenario, why]) => `**${scenario} failed:** ${why}\n`),
    ...(args.gate ? [...gateLines(checks), ''] : []),
    ...(pgRatio === undefined ? [] : [`On PostgreSQL, docpipe ÷ the raw PostgreSQL sink: ${pgRatio.toFixed(2)} (not gated).`, '']),
  ].join('\n');

  const panels: Panel[] = [];
  if (headline) {
    const longest = Math.max(...headline.contenders.map((c) => c.best?.seconds ?? 0));
    const windowMs = Math.min(1000, Math.max(100, (longest * 1000) / 20));
    panels.push({
      title: `Throughput over time — ${headline.title} (best round each)`,
      xLabel: 's since first write',
      yLabel: 'rows/s',
      series: headline.contenders.flatMap((c) =>
        c.best && !c.sampled ? [{ name: c.title.replace(/^(ceiling|peer \(.\)): /, ''), points: rates(c.best.timeline, windowMs) }] : [],
      ),
    });
  }
  if (stalled) {
    const s = stalled;
    panels.push({
      title: `docpipe RSS — sink stalled ${s.stallSeconds} s, ${s.backlog.toLocaleString('en-US')} documents of backlog`,
      xLabel: 's',
      yLabel: 'MB',
      series: [{ name: 'RSS', points: s.samples.map(([t, rss]) => [t, rss / 1048576] as const) }],
      reference: { value: TARGETS.stalledRssBytes / 1048576, label: 'target 256 MB' },
      marker: { at: s.stallSeconds, label: 'table unlocked' },
    });
    panels.push({
      title: 'docpipe rows written per second — same run',
      xLabel: 's',
      yLabel: 'rows/s',
      series: [
        {
          name: 'rows/s',
          points: rates(
            s.samples.map(([t, , rows]) => [t * 1000, rows] as const),
            1000,
          ),
        },
      ],
      marker: { at: s.stallSeconds, label: 'table unlocked' },
    });
  }

  await mkdir(args.out, { recursive: true });
  const base = resolve(args.out, `${when.replace(/[:.]/g, '-')}-${profile.name}`);
  await writeFile(`${base}.json`, JSON.stringify(result, null, 2));
  await writeFile(`${base}.md`, markdown);
  if (panels.length > 0) await writeFile(`${base}.svg`, renderChart(`docpipe benchmark, ${profile.name} run, ${when}`, panels));
  console.log(`\n${markdown}`);
  if (ratios?.postgresql) {
    const r = (n: number | undefined) => (n === undefined ? '–' : n.toFixed(2));
    log(`docpipe ÷ raw ceiling: ${databaseNames.mysql} ${r(ratios.mysql.ratio)}, ${databaseNames.postgresql} ${r(pgRatio)}`);
  }
  log(`done in ${result.seconds.toFixed(0)} s; results: ${base}.{json,md${panels.length > 0 ? ',svg' : ''}}`);
  if (checks.some((c) => c.ratio === undefined)) exitCode = 2;
  else if (checks.some((c) => !c.passed)) exitCode = 1;
} catch (err) {
  console.error(err);
  exitCode = 2;
} finally {
  await ctx.close();
}
// Client libraries may keep timers alive after disconnecting; the run is over.
process.exit(exitCode);
