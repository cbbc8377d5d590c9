// Fault 3: three docpipe processes on a 6-partition topic while documents keep arriving, and
// members leaving (SIGTERM) and joining every few seconds for a minute: every rebalance hands
// partitions over mid-stream. Nothing lost, no duplicates, each leaving member exits 0.
import t from 'tap';
import { freeBasePort } from '../helpers/faultsServers.js';
import { assertAlive, documents, range, rowCount, scenario, startMember, verifyDelivery, waitFor, waitForAllStored, type Member } from '../helpers/faults.js';

const CHURN_MS = 60_000;
const EVERY_MS = 4000;
const RATE_PER_S = 800;

t.test('members joining and leaving every few seconds for a minute on 6 partitions', async (t) => {
  const s = await scenario(t, 'churn', { partitions: 6 });
  const env = { DOCPIPE_DRAIN_TIMEOUT_MS: '10000' };
  const join = async () => startMember(s, { env, metricsPort: await freeBasePort([0]) });
  let live: Member[] = [await join(), await join(), await join()];

  // Documents arrive at a steady rate for the whole minute; every tenth is a second version.
  let next = 0;
  const producing = (async () => {
    const end = Date.now() + CHURN_MS;
    while (Date.now() < end) {
      const tick = Date.now();
      const ids = range(next, next + RATE_PER_S);
      next += RATE_PER_S;
      await s.ledger.send(s, [
        ...documents(ids, 1),
        ...documents(
          ids.filter((i) => i % 10 === 0),
          2,
        ),
      ]);
      await new Promise((r) => setTimeout(r, Math.max(0, 1000 - (Date.now() - tick))));
    }
  })();
  await waitFor(
    async () => {
      assertAlive(...live);
      return (await rowCount(s)) > 0;
    },
    'the members to start writing',
    120_000,
  );

  const stops: Promise<void>[] = [];
  const leave = async (m: Member) => {
    // A member leaves once it has joined; a stop during start-up is another case (see the SIGTERM test).
    await m.ready();
    const age = Date.now() - m.started;
    const { code, hung, ms } = await m.terminate();
    t.equal(
      code,
      0,
      `a member leaving ${age} ms after its start drains and exits 0 (${hung ? 'hung' : `in ${ms} ms`}, signal ${String(m.child.signalCode)})\n${m.output(1500)}`,
    );
  };
  let events = 0;
  const end = Date.now() + CHURN_MS;
  for (let round = 0; Date.now() < end; round++) {
    // The pace of the churn, not a wait for anything.
    await new Promise((r) => setTimeout(r, EVERY_MS));
    assertAlive(...live);
    // Alternate: one leaves; then one joins (and on every third round one more leaves first).
    if (round % 2 === 0 && live.length > 1) {
      const leaving = live[round % live.length]!;
      live = live.filter((m) => m !== leaving);
      stops.push(leave(leaving));
    } else {
      if (round % 3 === 0 && live.length > 1) {
        const leaving = live.shift()!;
        stops.push(leave(leaving));
      }
      live.push(await join());
    }
    events++;
  }
  await producing;
  await Promise.all(stops);
  t.ok(events >= 10, `${events} membership changes in ${CHURN_MS / 1000} s`);
  await waitForAllStored(s, 180_000, live);
  await verifyDelivery(t, s);
  for (const m of live) t.equal((await m.terminate()).code, 0, 'the remaining members stop cleanly');
});
