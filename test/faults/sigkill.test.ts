// Fault 1: docpipe killed with SIGKILL mid-batch five times in one run, restarted each time,
// while newer versions of some documents keep arriving.
import t from 'tap';
import {
  checkCommitsBehindWrites,
  documents,
  range,
  rowCount,
  scenario,
  startMember,
  verifyDelivery,
  waitFor,
  waitForAllStored,
  assertAlive,
} from '../helpers/faults.js';

const DOCS = 40_000;
const KILLS = 5;

t.test('SIGKILL mid-batch five times, restarting each time: nothing lost, no duplicates', async (t) => {
  const s = await scenario(t, 'sigkill', { partitions: 3 });
  await s.ledger.send(s, documents(range(0, DOCS), 1));
  // Second versions arrive while the kills happen, so a replay after a kill could bring back
  // an older version if the upsert guard failed.
  const updates = s.ledger.send(s, documents(range(0, 4000), 2));

  for (let kill = 1; kill <= KILLS; kill++) {
    const before = await rowCount(s);
    const member = startMember(s, { env: { DOCPIPE_MAX_INFLIGHT_RECORDS: '2000' } });
    await waitFor(
      async () => {
        assertAlive(member);
        return (await rowCount(s)) >= before + 1500;
      },
      `run ${kill} to write rows`,
      120_000,
    );
    member.kill('SIGKILL');
    await member.exited;
    const at = await rowCount(s);
    t.ok(at < DOCS, `kill ${kill} came mid-run (${at} of ${DOCS} rows)`);
    await checkCommitsBehindWrites(t, s, `after kill ${kill}`);
  }
  await updates;

  const last = startMember(s);
  await waitForAllStored(s, 180_000, [last]);
  await verifyDelivery(t, s);
  const { code } = await last.terminate();
  t.equal(code, 0, `the last run stops cleanly on SIGTERM\n${last.output()}`);
});
