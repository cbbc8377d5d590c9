// Fault 5: the database stopped for 60 s under load, then started again (a private MariaDB, so
// that nobody else's server goes down). During the outage docpipe commits nothing, stays
// alive within its memory bound while the backlog grows, and afterwards everything lands.
import t from 'tap';
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

const OUTAGE_MS = 60_000;

t.test('MariaDB stopped for 60 s, then started: no commits meanwhile, bounded memory, everything lands', async (t) => {
  const mariadb = await privateMariadb(t);
  const s = await scenario(t, 'db_outage', { partitions: 3, db: mariadb.db });
  await s.ledger.send(s, documents(range(0, 20_000)));
  const member = startMember(s);
  await waitFor(
    async () => {
      assertAlive(member);
      return (await rowCount(s)) >= 2000;
    },
    'writing to be under way',
    120_000,
  );

  await mariadb.stop();
  const stoppedAt = Date.now();
  // The backlog grows during the outage: docpipe must hold it in Kafka, not in memory.
  await s.ledger.send(s, documents(range(20_000, 60_000)));
  // Offsets of rows written just before the stop may still be committed by the next pass of
  // the commit timer (every 200 ms); after that nothing may move.
  await new Promise((r) => setTimeout(r, 2000));
  const frozen = await committedOffsets(s);
  let samples = 0;
  while (Date.now() - stoppedAt < OUTAGE_MS) {
    assertAlive(member);
    const now = await committedOffsets(s);
    t.same(now, frozen, 'no offsets committed during the outage', { diagnostic: false });
    samples++;
    await new Promise((r) => setTimeout(r, 2000));
  }
  t.ok(samples >= 20, `committed offsets sampled ${samples} times during the outage`);
  t.match(member.fullOutput(), /transient database error; retrying/, 'docpipe retried through the outage');

  await mariadb.start();
  await waitForAllStored(s, 240_000, [member]);
  const { code } = await member.terminate();
  t.equal(code, 0, 'stops cleanly');
  await verifyDelivery(t, s);
});
