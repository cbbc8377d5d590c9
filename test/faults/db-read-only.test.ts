// Fault: the database turns read-only for 20 s mid-run, as a primary does when a failover
// demotes it (`SET GLOBAL read_only=1`; docpipe's account has no SUPER, so it binds). docpipe
// keeps retrying with backoff instead of stopping, commits nothing meanwhile (nothing is being
// written), and everything lands once the server accepts writes again.
import t from 'tap';
import knex from 'knex';
import {
  assertAlive,
  committedOffsets,
  documents,
  range,
  rowCount,
  scenario,
  startMember,
  verifyDelivery,
  waitFor,
  waitForAllStored,
} from '../helpers/faults.js';
import { privateMariadb } from '../helpers/faultsServers.js';

const READ_ONLY_MS = 20_000;

t.test('a database read-only for 20 s: retried, no commits meanwhile, everything lands afterwards', async (t) => {
  const mariadb = await privateMariadb(t, [], { accounts: true });
  const s = await scenario(t, 'read_only', { partitions: 3, db: mariadb.db });
  const admin = knex({ client: 'mysql2', connection: { ...mariadb.admin }, pool: { min: 0, max: 1 } });
  t.teardown(() => admin.destroy());
  await s.ledger.send(s, documents(range(0, 20_000), 1));
  const member = startMember(s);
  await waitFor(
    async () => {
      assertAlive(member);
      return (await rowCount(s)) >= 3000;
    },
    'docpipe to write its first rows',
    120_000,
  );

  await admin.raw('SET GLOBAL read_only = 1');
  const [[{ ro }]] = (await admin.raw('SELECT @@GLOBAL.read_only AS ro')) as [[{ ro: number }]];
  t.equal(Number(ro), 1, 'the server is read-only');
  const frozenAt = Date.now();
  // More documents arrive while no write can succeed.
  const later = s.ledger.send(s, documents(range(20_000, 30_000), 1));
  // A commit already on its way may land just after the switch; after that, none may.
  await waitFor(async () => /ER_OPTION_PREVENTS_STATEMENT|1290/.test(member.fullOutput()), 'docpipe to meet the read-only server', 10_000);
  // What was written before the switch is still committed (every 200 ms): once two reads a
  // second apart agree, that has happened, and from then on nothing may move.
  let held = await committedOffsets(s);
  await waitFor(
    async () => {
      await new Promise((r) => setTimeout(r, 1000));
      const now = await committedOffsets(s);
      const settled = JSON.stringify(now) === JSON.stringify(held);
      held = now;
      return settled;
    },
    'the commits of what was written before the switch',
    10_000,
    0,
  );
  const rowsHeld = await rowCount(s);
  let samples = 0;
  while (Date.now() - frozenAt < READ_ONLY_MS) {
    await new Promise((r) => setTimeout(r, 1000));
    assertAlive(member);
    t.same(await committedOffsets(s), held, 'no commit while nothing can be written', { diagnostic: false });
    samples++;
  }
  t.ok(samples >= 10, `committed offsets sampled ${samples} times during the read-only window`);
  t.equal(await rowCount(s), rowsHeld, 'no row written while read-only');
  await later;

  await admin.raw('SET GLOBAL read_only = 0');
  await waitForAllStored(s, 180_000, [member]);
  t.match(member.fullOutput(), /transient database error; retrying the batch/, 'retried, with backoff');
  t.notMatch(member.fullOutput(), /fatal error/, 'never treated as fatal');
  await verifyDelivery(t, s);
  const { code } = await member.terminate();
  t.equal(code, 0, 'stops cleanly');
});
