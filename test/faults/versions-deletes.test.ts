// Fault: docpipe (deletes on) killed with SIGKILL and restarted several times while versions and
// tombstones of the same doc_ids arrive on several partitions, each version on another partition
// than the one before, with explicit, strictly increasing timestamps. At the end every doc_id
// must be at its latest acknowledged version — by the sinks' own rule — or deleted.
import t from 'tap';
import {
  PositionLedger,
  RSS_BUDGET_MB,
  assertAlive,
  committedOffsets,
  deadLetters,
  docJson,
  examineVersions,
  maxRssMbOf,
  reportFigures,
  scenario,
  startMember,
  waitFor,
  type PositionedRecord,
  type Scenario,
} from '../helpers/faults.js';

const PARTITIONS = 4;
const DOC_IDS = 300;
const RECORDS = 20_000;
const KILLS = 5;
/** Sent before the first member starts; the rest arrives at RATE records/s while members are killed. */
const UPFRONT = 2_000;
const RATE = 320;
const SLICE = 100;
/** Doc_ids 1..ENDS_DELETED end on a tombstone; the next REVIVED are deleted, then written again. */
const ENDS_DELETED = 40;
const REVIVED = 40;

/** A small deterministic generator (mulberry32), so that a failure can be reproduced. */
const random = (seed: number): (() => number) => {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = Math.imul(a ^ (a >>> 15), 1 | a);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
};

/**
 * RECORDS versions and tombstones of doc_ids 1..DOC_IDS, in sending order. Each record of a
 * doc_id goes to a partition other than its previous record's, and timestamps are `base` plus
 * the record's index, so the latest of a doc_id is always its last one sent.
 */
const plan = (base: number, seed: number): PositionedRecord[] => {
  const next = random(seed);
  const versions = new Map<number, number>();
  const partitions = new Map<number, number>();
  const out: PositionedRecord[] = [];
  const add = (id: number, tombstone: boolean): void => {
    const version = (versions.get(id) ?? 0) + 1;
    versions.set(id, version);
    const previous = partitions.get(id);
    const partition = previous === undefined ? Math.floor(next() * PARTITIONS) : (previous + 1 + Math.floor(next() * (PARTITIONS - 1))) % PARTITIONS;
    partitions.set(id, partition);
    const timestamp = base + out.length;
    if (tombstone) {
      out.push({ key: String(id), partition, timestamp, value: null });
    } else {
      const title = `v${version} ${id}`;
      const body = `${id}:${version}:`.padEnd(300, 'x');
      out.push({ key: String(id), partition, timestamp, value: docJson(id, title, body), title, body });
    }
  };
  const tail = ENDS_DELETED + 2 * REVIVED;
  while (out.length < RECORDS - tail) add(1 + Math.floor(next() * DOC_IDS), next() < 0.12);
  for (let id = 1; id <= ENDS_DELETED + REVIVED; id++) add(id, true);
  for (let id = ENDS_DELETED + 1; id <= ENDS_DELETED + REVIVED; id++) add(id, false);
  return out;
};

const committedTotal = async (s: Scenario): Promise<number> => (await committedOffsets(s)).reduce((a, c) => a + Math.max(0, c), 0);

t.test('SIGKILL loop while versions and deletes of the same doc_ids arrive on several partitions: each doc_id at its latest version or deleted', async (t) => {
  const s = await scenario(t, 'versions-deletes', { partitions: PARTITIONS });
  const ledger = await PositionLedger.open(s);
  t.teardown(() => ledger.close());
  // In the past by the records' count, so that no timestamp is ahead of the broker's clock.
  const records = plan(Date.now() - RECORDS, 0x5eed);
  const lastOf = new Map(records.map((r) => [r.key, r]));
  const endDeleted = [...lastOf.values()].filter((r) => r.value === null).length;
  const tombstoned = new Set(records.flatMap((r) => (r.value === null ? [r.key] : [])));
  const revived = [...lastOf.values()].filter((r) => r.value !== null && tombstoned.has(r.key)).length;
  t.comment(
    `${records.length} records (${records.filter((r) => r.value === null).length} tombstones) of ${lastOf.size} doc_ids on ${PARTITIONS} partitions: ` +
      `${endDeleted} end deleted, ${revived} deleted and then written again`,
  );
  t.ok(endDeleted >= ENDS_DELETED && revived >= REVIVED, 'the plan ends some doc_ids deleted and revives others');

  await ledger.send(records.slice(0, UPFRONT));
  // The rest at a steady rate (a load shape, not a synchronisation): records keep arriving
  // while members are killed, and replays after a kill meet versions newer and older than theirs.
  let produced = false;
  const production = (async () => {
    const started = Date.now();
    for (let i = UPFRONT, n = 0; i < records.length; i += SLICE, n++) {
      await ledger.send(records.slice(i, i + SLICE));
      const due = started + ((n + 1) * SLICE * 1000) / RATE;
      if (due > Date.now()) await new Promise((resolve) => setTimeout(resolve, due - Date.now()));
    }
    produced = true;
  })();

  const env = { DOCPIPE_DELETES: 'true', DOCPIPE_MAX_INFLIGHT_RECORDS: '2000' };
  for (let kill = 1; kill <= KILLS; kill++) {
    const before = await committedTotal(s);
    const member = startMember(s, { env });
    await waitFor(
      async () => {
        assertAlive(member);
        return (await committedTotal(s)) >= before + 1500;
      },
      `run ${kill} to commit records`,
      60_000,
      250,
    );
    member.kill('SIGKILL');
    await member.exited;
    const at = await committedTotal(s);
    t.ok(at < RECORDS, `kill ${kill} came mid-run (${at} of ${RECORDS} records committed, production ${produced ? 'done' : 'going on'})`);
    const v = await examineVersions(s, ledger);
    t.same(v.committedAhead.slice(0, 10), [], `after kill ${kill}: committed offsets ${JSON.stringify(v.committed)} cover only written versions`);
  }
  await production;
  t.same(ledger.failures.slice(0, 5), [], 'every produced record was acknowledged');
  t.equal(ledger.acked.length, RECORDS, `${RECORDS} records acknowledged`);
  const moved = ledger.acked.filter((r) => r.timestamp !== r.sentTimestamp);
  t.same(
    moved.slice(0, 5).map((r) => `${r.key}@${r.partition}/${r.offset}: sent ts ${r.sentTimestamp}, acknowledged ts ${r.timestamp}`),
    [],
    'the broker kept every timestamp it was sent',
  );

  const last = startMember(s, { env });
  const ends = new Array<number>(PARTITIONS).fill(0);
  for (const r of ledger.acked) ends[r.partition] = Math.max(ends[r.partition] ?? 0, r.offset + 1);
  await waitFor(
    async () => {
      assertAlive(last);
      return (await committedOffsets(s)).every((c, p) => c >= (ends[p] ?? 0));
    },
    `the last run to commit all ${RECORDS} records`,
    90_000,
    500,
  );

  const v = await examineVersions(s, ledger);
  const latest = ledger.latest();
  const dead = await deadLetters(s);
  const maxRssMb = maxRssMbOf(s);
  t.same(v.mismatches.slice(0, 10), [], `every doc_id at its latest acknowledged version or deleted (${v.mismatches.length} mismatches)`);
  t.equal(v.duplicates, 0, 'one row per doc_id');
  t.same(v.extra.slice(0, 10), [], 'no rows beyond the acknowledged doc_ids');
  t.same(v.committedAhead.slice(0, 10), [], 'no committed offset beyond what was written');
  t.equal(dead.length, 0, 'nothing dead-lettered');
  const deleted = [...latest.values()].filter((r) => r.value === null).length;
  t.equal(deleted, endDeleted, `${deleted} doc_ids end deleted by their latest acknowledged record`);
  t.comment(`${v.rows} rows, ${v.markers} delete markers, ${latest.size - deleted} live doc_ids expected`);
  t.ok(maxRssMb > 0 && maxRssMb <= RSS_BUDGET_MB, `largest docpipe RSS ${maxRssMb} MB within ${RSS_BUDGET_MB} MB`);
  reportFigures(t, {
    fault: s.fault,
    produced: ledger.produced,
    acknowledged: ledger.acked.length,
    lost: v.mismatches.length,
    duplicates: v.duplicates,
    deadLettered: dead.length,
    maxRssMb,
    rssBudgetMb: RSS_BUDGET_MB,
    members: s.members.length,
  });

  const { code } = await last.terminate();
  t.equal(code, 0, `the last run stops cleanly on SIGTERM\n${last.output()}`);
});
