/**
 * The readable side of a run: one markdown table per throughput scenario with every figure
 * as a ratio to the raw-sink ceiling and to each peer, then memory, latency and the targets.
 * A figure is divided only by ceilings and peers that wrote to the same database: PostgreSQL
 * contenders by the raw PostgreSQL ceiling, the rest by the MariaDB ones.
 *
 *   console.log(scenarioTable(result.throughput[0]), ceilingsSection(result.throughput[0], { mysql: 'MariaDB', postgresql: 'PostgreSQL' }));
 */
import type { ContenderResult, ThroughputResult } from './throughput.js';
import type { StalledSinkResult } from './stalledSink.js';
import type { LatencyResult } from './latency.js';
import type { Throughput } from './progress.js';

export interface Targets {
  docpipeToRawSink: number;
  docpipeToUpstream: number;
  docpipeToKafkajs: number;
  stalledRssBytes: number;
  p99Ms: number;
}

export const TARGETS: Targets = { docpipeToRawSink: 0.85, docpipeToUpstream: 20, docpipeToKafkajs: 1.5, stalledRssBytes: 256 * 1024 * 1024, p99Ms: 250 };

const PEERS = ['upstream', 'kafkajs', 'confluentKafkaJs'] as const;
const PEER_NAMES: Record<(typeof PEERS)[number], string> = { upstream: 'upstream', kafkajs: 'KafkaJS', confluentKafkaJs: 'confluent KafkaJS' };

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const ratio = (a: number, b: number | undefined) => (b && b > 0 ? (a / b >= 10 ? (a / b).toFixed(1) : (a / b).toFixed(2)) : '–');
const mb = (bytes: number) => `${Math.round(bytes / 1048576)} MB`;

const bestOf = (s: ThroughputResult, id: string): Throughput | undefined => s.contenders.find((c) => c.id === id)?.best;

export const rateOf = (s: ThroughputResult, id: string): number | undefined => bestOf(s, id)?.rowsPerSecond;

const peakCell = (c: ContenderResult): string =>
  c.peakRssBytes === undefined ? '–' : `${mb(c.peakRssBytes)}${c.peakRssRiseBytes === undefined ? '' : ` (+${Math.round(c.peakRssRiseBytes / 1048576)})`}`;

const cpuCells = (t: Throughput): string[] =>
  t.cpuMicrosPerRow === undefined ? ['–', '–'] : [`${Math.round(t.machineBusy! * 100)}%`, t.cpuMicrosPerRow.toFixed(1)];

export const scenarioTable = (s: ThroughputResult): string => {
  const sink = rateOf(s, 'rawSink');
  const pgSink = rateOf(s, 'rawPostgresSink');
  const prepared = rateOf(s, 'rawSinkPrepared');
  const pipe = rateOf(s, 'rawPipe');
  const peers = PEERS.filter((p) => rateOf(s, p) !== undefined);
  const cpu = s.contenders.some((c) => c.best?.cpuMicrosPerRow !== undefined);
  const head = [
    'contender',
    'rows/s',
    '÷ raw sink',
    ...(pgSink ? ['÷ raw PostgreSQL sink'] : []),
    ...(prepared ? ['÷ prepared raw sink'] : []),
    ...(pipe ? ['÷ raw pipe'] : []),
    ...peers.map((p) => `÷ ${PEER_NAMES[p]}`),
    ...(cpu ? ['machine busy', 'machine CPU µs/row'] : []),
    'peak RSS',
    'rounds (rows/s)',
  ];
  const lines = [
    `### ${s.title} — ${fmt(s.documents)} documents`,
    '',
    "Peak RSS: a contender's own process where it runs in one; otherwise the benchmark process's over its rounds, the harness included, with in brackets how far it rose above where a round started (the contender's own share).",
    '',
    `| ${head.join(' | ')} |`,
    `| ${head.map((_, i) => (i === 0 ? '---' : '---:')).join(' | ')} |`,
  ];
  for (const c of s.contenders) {
    if (!c.best) {
      lines.push(
        `| ${c.title} | failed: ${(c.error ?? 'no result').replace(/\|/g, '/')} | ${head
          .slice(2)
          .map(() => '–')
          .join(' | ')} |`,
      );
      continue;
    }
    const r = c.best.rowsPerSecond;
    const name = c.sampled ? `${c.title} (first ${fmt(c.documents)} documents)` : c.title;
    const unit = c.id === 'rawSource' ? `${fmt(r)} msgs/s` : fmt(r);
    const onMysql = (other: number | undefined) => (c.database === 'mysql' ? ratio(r, other) : '–');
    const onPostgres = (other: number | undefined) => (c.database === 'postgresql' ? ratio(r, other) : '–');
    lines.push(
      `| ${[name, unit, onMysql(sink), ...(pgSink ? [onPostgres(pgSink)] : []), ...(prepared ? [onMysql(prepared)] : []), ...(pipe ? [onMysql(pipe)] : []), ...peers.map((p) => onMysql(rateOf(s, p))), ...(cpu ? cpuCells(c.best) : []), peakCell(c), c.rounds.map(fmt).join(', ')].join(' | ')} |`,
    );
  }
  return lines.join('\n');
};

export interface CeilingRatio {
  docpipe: number | undefined;
  ceiling: number | undefined;
  /** docpipe's default chain ÷ the raw-sink ceiling of the same database; undefined without both. */
  ratio: number | undefined;
}

/** docpipe against its database's raw ceiling, per database; PostgreSQL only where its contenders ran. */
export const ceilingRatios = (s: ThroughputResult): { mysql: CeilingRatio; postgresql?: CeilingRatio } => {
  const of = (docpipe: string, ceiling: string): CeilingRatio => {
    const d = rateOf(s, docpipe);
    const c = rateOf(s, ceiling);
    return { docpipe: d, ceiling: c, ratio: d !== undefined && c ? d / c : undefined };
  };
  const ran = (c: ContenderResult) => c.id === 'docpipePostgres' || c.id === 'rawPostgresSink';
  return { mysql: of('docpipe', 'rawSink'), ...(s.contenders.some(ran) && { postgresql: of('docpipePostgres', 'rawPostgresSink') }) };
};

/** The headline's docpipe ÷ ceiling on each database, side by side; undefined when only MariaDB ran. */
export const ceilingsSection = (s: ThroughputResult, names: { mysql: string; postgresql: string }): string | undefined => {
  const { mysql, postgresql } = ceilingRatios(s);
  if (!postgresql) return undefined;
  const cell = (n: number | undefined) => (n === undefined ? '–' : fmt(n));
  const row = (name: string, r: CeilingRatio) => `| ${name} | ${cell(r.docpipe)} | ${cell(r.ceiling)} | ${r.ratio === undefined ? '–' : r.ratio.toFixed(2)} |`;
  return [
    '### docpipe ÷ raw ceiling, by database (headline)',
    '',
    "docpipe's default chain against the raw multi-row INSERT ceiling of the same database, both measured in this run (the PostgreSQL ceiling upserts, ON CONFLICT (doc_id) DO UPDATE; the MariaDB one inserts):",
    '',
    '| database | docpipe rows/s | raw ceiling rows/s | docpipe ÷ ceiling |',
    '| --- | ---: | ---: | ---: |',
    row(names.mysql, mysql),
    row(names.postgresql, postgresql),
  ].join('\n');
};

const cpuOf = (s: ThroughputResult, id: string): number | undefined => bestOf(s, id)?.cpuMicrosPerRow;

/**
 * What the raw-sink target asks of the machine, from the headline's CPU figures: the cores are
 * shared, so a rate is the CPU time a row costs everyone divided into the time there is.
 */
export const cpuBudgetSection = (s: ThroughputResult, cores: number): string | undefined => {
  const read = cpuOf(s, 'rawSource');
  const write = cpuOf(s, 'rawSinkPrepared');
  const writeText = cpuOf(s, 'rawSink');
  const pipe = cpuOf(s, 'rawPipe');
  const docpipe = cpuOf(s, 'docpipe');
  const sink = bestOf(s, 'rawSink');
  if (read === undefined || write === undefined || docpipe === undefined || !sink?.machineBusy) return undefined;
  const wanted = TARGETS.docpipeToRawSink * sink.rowsPerSecond;
  const allowed = (sink.machineBusy * cores * 1e6) / wanted;
  const µs = (n: number) => `${n.toFixed(1)} µs`;
  return [
    '### Machine CPU a row (headline)',
    '',
    `CPU time of every process on the machine (${cores} cores: docpipe, the broker, the database, the kernel) between each contender's first and last write, per row:`,
    '',
    '| | µs a row |',
    '| --- | ---: |',
    `| reading a message (raw source) | ${read.toFixed(1)} |`,
    `| writing a row (prepared raw sink${writeText === undefined ? '' : `; ${writeText.toFixed(1)} with knex's SQL text`}) | ${write.toFixed(1)} |`,
    `| reading and writing, the least a pipeline costs | ${(read + write).toFixed(1)} |`,
    ...(pipe === undefined ? [] : [`| raw pipe (also JSON.parse and a row object) | ${pipe.toFixed(1)} |`]),
    `| docpipe, default chain | ${docpipe.toFixed(1)} |`,
    `| docpipe's own work (decoding, checking, encoding, the upsert, offsets) | ${(docpipe - read - write).toFixed(1)} |`,
    '',
    `${TARGETS.docpipeToRawSink} × the raw sink is ${fmt(wanted)} rows/s; with the machine as busy as it was under the raw sink (${Math.round(sink.machineBusy * 100)}%), that leaves ${µs(allowed)} a row for everything, ${µs(allowed - read - write)} of it for docpipe's own work.`,
  ].join('\n');
};

/**
 * What the memory bound costs: docpipe run started as it ships against the same process with
 * the bound off, from the same alternating rounds, with the kernel's peak RSS of each.
 */
export const memoryBoundSection = (s: ThroughputResult): string | undefined => {
  const shipped = s.contenders.find((c) => c.id === 'docpipeProcess');
  const unbounded = s.contenders.find((c) => c.id === 'docpipeProcessUnbounded');
  if (!shipped?.best || !unbounded?.best) return undefined;
  const peak = (c: ContenderResult) => Math.max(0, ...((c.details as { peakRssBytes?: number[] } | undefined)?.peakRssBytes ?? []));
  const row = (c: ContenderResult) => `| ${c.title} | ${fmt(c.best!.rowsPerSecond)} | ${mb(peak(c))} | ${c.rounds.map(fmt).join(', ')} |`;
  return [
    `### What the memory bound costs — ${s.title}, ${fmt(s.documents)} documents`,
    '',
    '| contender | rows/s (best round) | peak RSS (VmHWM, all rounds) | rounds (rows/s) |',
    '| --- | ---: | ---: | ---: |',
    row(shipped),
    row(unbounded),
    '',
    `As shipped ÷ bound off: ${ratio(shipped.best.rowsPerSecond, unbounded.best.rowsPerSecond)} ×.`,
  ].join('\n');
};

export const stalledSection = (r: StalledSinkResult): string =>
  [
    `### Memory with a stalled sink`,
    '',
    `docpipe run (in-flight budget ${mb(r.budgetBytes)}), ${fmt(r.backlog)} documents of ${fmt(r.docBytes)} B in a ${r.partitions}-partition backlog, table write-locked for ${r.stallSeconds} s, then ${r.drainSeconds} s of draining:`,
    '',
    '| figure | value |',
    '| --- | ---: |',
    `| max RSS while stalled | ${mb(r.maxRssStalledBytes)} |`,
    `| max RSS overall (stalled + draining) | ${mb(r.maxRssBytes)} |`,
    `| rows/s while draining | ${fmt(r.drainRowsPerSecond)} |`,
  ].join('\n');

export const latencySection = (r: LatencyResult): string =>
  [
    `### End-to-end latency`,
    '',
    `docpipe run, ${fmt(r.documents)} documents of ${fmt(r.docBytes)} B produced at ${fmt(r.ratePerSecond)}/s (achieved ${fmt(r.producedPerSecond)}/s) to ${r.partitions} partitions; from the producer call to the row's INSERT:`,
    '',
    '| p50 | p99 | max |',
    '| ---: | ---: | ---: |',
    `| ${fmt(r.p50Ms)} ms | ${fmt(r.p99Ms)} ms | ${fmt(r.maxMs)} ms |`,
  ].join('\n');

export interface TargetCheck {
  target: string;
  measured: string;
  met: boolean;
}

export const checkTargets = (headline: ThroughputResult | undefined, stalled: StalledSinkResult | undefined, lat: LatencyResult | undefined): TargetCheck[] => {
  const out: TargetCheck[] = [];
  const d = headline && rateOf(headline, 'docpipe');
  const against = (id: string, want: number, label: string) => {
    const other = headline && rateOf(headline, id);
    if (d !== undefined && other) out.push({ target: `docpipe ≥ ${want} × ${label}`, measured: `${ratio(d, other)} ×`, met: d / other >= want });
  };
  against('rawSink', TARGETS.docpipeToRawSink, 'raw-sink ceiling');
  against('upstream', TARGETS.docpipeToUpstream, "upstream's algorithm");
  against('kafkajs', TARGETS.docpipeToKafkajs, 'KafkaJS peer');
  if (stalled)
    out.push({
      target: `RSS ≤ ${mb(TARGETS.stalledRssBytes)} with a stalled sink`,
      measured: `${mb(stalled.maxRssStalledBytes)} (backlog ${fmt(stalled.backlog)})`,
      met: stalled.maxRssStalledBytes <= TARGETS.stalledRssBytes,
    });
  if (lat)
    out.push({ target: `p99 ≤ ${TARGETS.p99Ms} ms`, measured: `${fmt(lat.p99Ms)} ms at ${fmt(lat.ratePerSecond)} docs/s`, met: lat.p99Ms <= TARGETS.p99Ms });
  return out;
};

export const targetsSection = (checks: readonly TargetCheck[]): string =>
  [
    '### Targets (headline scenario)',
    '',
    '| target | measured | met |',
    '| --- | ---: | :---: |',
    ...checks.map((c) => `| ${c.target} | ${c.measured} | ${c.met ? 'yes' : 'no'} |`),
  ].join('\n');
