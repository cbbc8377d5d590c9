// Fault 2: SIGTERM while a database write is slow (the table is locked by another session).
// Within the drain deadline: the write completes, offsets are committed, exit 0. Past it: the
// process still exits on time, and what it had not finished is read again by the next run.
import t from 'tap';
import type { Knex } from 'knex';
import { knexClient } from '../../sinks/knexClient.js';
import {
  assertAlive,
  checkCommitsBehindWrites,
  documents,
  range,
  rowCount,
  scenario,
  startMember,
  verifyDelivery,
  waitFor,
  waitForAllStored,
  type Scenario,
} from '../helpers/faults.js';

/** How late past its drain deadline a stop may exit: process exit, closing the pool and the consumer. */
const EXIT_MARGIN_MS = 5000;

/** Holds a write lock on the table from a session of its own until `release` is called. */
const lockTable = async (s: Scenario) => {
  const conn = (await knexClient(s.knex).acquireConnection()) as { query: (sql: string, cb: (err: Error | null) => void) => void };
  const query = (sql: string) => new Promise<void>((ok, fail) => conn.query(sql, (err) => (err ? fail(err) : ok())));
  await query('LOCK TABLES input_data WRITE');
  let released = false;
  const release = async () => {
    if (released) return;
    released = true;
    await query('UNLOCK TABLES');
    await knexClient(s.knex).releaseConnection(conn);
  };
  return release;
};

/** Waits until one of docpipe's statements is blocked on the lock. */
const writeBlocked = (s: Scenario, knex: Knex) =>
  waitFor(
    async () => {
      const [rows] = (await knex.raw(
        "SELECT ID FROM information_schema.PROCESSLIST WHERE DB = ? AND STATE LIKE 'Waiting for table metadata lock%' AND INFO LIKE 'insert%'",
        [s.database],
      )) as [unknown[]];
      return rows.length > 0;
    },
    'a docpipe write to block on the locked table',
    30_000,
  );

t.test('SIGTERM during a slow write: drains within the deadline, exits 0, nothing lost', async (t) => {
  const DRAIN_MS = 15_000;
  const s = await scenario(t, 'sigterm_slow', { partitions: 3 });
  await s.ledger.send(s, documents(range(0, 20_000)));
  const member = startMember(s, { env: { DOCPIPE_DRAIN_TIMEOUT_MS: String(DRAIN_MS) } });
  t.teardown(() => member.kill());
  await waitFor(
    async () => {
      assertAlive(member);
      return (await rowCount(s)) >= 2000;
    },
    'writing to be under way',
    120_000,
  );
  const release = await lockTable(s);
  t.teardown(release);
  await writeBlocked(s, s.knex);

  const stopping = member.terminate();
  // The write stays slow for a while after the signal: the stop has to wait for it.
  await new Promise((r) => setTimeout(r, 3000));
  t.ok(member.running, 'still draining while the write is blocked');
  await release();
  const { code, ms } = await stopping;
  t.equal(code, 0, `exits 0 after draining\n${member.output()}`);
  t.ok(ms <= DRAIN_MS + EXIT_MARGIN_MS, `exited ${ms} ms after SIGTERM (deadline ${DRAIN_MS} ms + ${EXIT_MARGIN_MS} ms)`);
  await checkCommitsBehindWrites(t, s, 'after the drained stop');

  const next = startMember(s);
  await waitForAllStored(s, 180_000, [next]);
  await next.terminate();
  await verifyDelivery(t, s);
});

t.test('SIGTERM while a write stays blocked past the drain deadline: exits on time, the next run finishes', async (t) => {
  const DRAIN_MS = 5000;
  const s = await scenario(t, 'sigterm_deadline', { partitions: 3 });
  await s.ledger.send(s, documents(range(0, 20_000)));
  const member = startMember(s, { env: { DOCPIPE_DRAIN_TIMEOUT_MS: String(DRAIN_MS) } });
  t.teardown(() => member.kill());
  await waitFor(
    async () => {
      assertAlive(member);
      return (await rowCount(s)) >= 2000;
    },
    'writing to be under way',
    120_000,
  );
  const release = await lockTable(s);
  t.teardown(release);
  await writeBlocked(s, s.knex);

  const { code, ms, hung } = await member.terminate(DRAIN_MS + 30_000);
  t.ok(
    !hung && ms <= DRAIN_MS + EXIT_MARGIN_MS,
    `exited ${hung ? 'not at all' : `${ms} ms`} after SIGTERM (deadline ${DRAIN_MS} ms + ${EXIT_MARGIN_MS} ms), code ${String(code)}\n${member.output()}`,
  );
  await release();
  await checkCommitsBehindWrites(t, s, 'after the stop at the deadline');

  const next = startMember(s);
  await waitForAllStored(s, 180_000, [next]);
  await next.terminate();
  await verifyDelivery(t, s);
});

t.test("SIGTERM during start-up (waiting for another member's migration): a clean exit 0", async (t) => {
  const s = await scenario(t, 'sigterm_startup', { partitions: 1 });
  await s.ledger.send(s, documents(range(0, 100)));
  const first = startMember(s);
  await waitFor(
    async () => {
      assertAlive(first);
      return (await rowCount(s)) === 100;
    },
    'a first run to create the table',
    120_000,
  );
  t.equal((await first.terminate()).code, 0, 'the first run stops cleanly');

  // Another member in the middle of a migration: it holds the named lock members migrate
  // under, so this one's start-up blocks on it, visibly, for as long as the test wants.
  const trx = await s.knex.transaction();
  t.teardown(() => trx.rollback().catch(() => {}));
  await trx.raw("SELECT GET_LOCK(CONCAT('docpipe:', SHA1(CONCAT(DATABASE(), '.', 'input_data'))), 0)");
  const member = startMember(s);
  await waitFor(
    async () => {
      assertAlive(member);
      const [rows] = (await s.knex.raw(
        // Not this query itself, which names the function too.
        "SELECT ID FROM information_schema.PROCESSLIST WHERE DB = ? AND INFO LIKE '%GET_LOCK%' AND COMMAND = 'Query' AND ID <> CONNECTION_ID()",
        [s.database],
      )) as [unknown[]];
      return rows.length > 0;
    },
    'the start-up to wait for the migration lock',
    60_000,
  );
  const { code, ms, hung } = await member.terminate(30_000);
  t.equal(code, 0, `exits 0 (${hung ? 'hung' : `${ms} ms after SIGTERM`}; signal ${String(member.child.signalCode)})`);
  await trx.rollback();
  await checkCommitsBehindWrites(t, s, 'after the stop during start-up');
});
