// Fault 7: docpipe's database connections killed from another session while they are in the
// middle of a write transaction: each batch is retried, idempotently; nothing is dead-lettered.
import t from 'tap';
import { documents, range, rowCount, scenario, startMember, verifyDelivery, waitFor, waitForAllStored, assertAlive } from '../helpers/faults.js';

t.test("docpipe's connections killed mid-transaction: retried idempotently, nothing lost or dead-lettered", async (t) => {
  const DOCS = 60_000;
  const s = await scenario(t, 'connkill', { partitions: 3 });
  await s.ledger.send(s, documents(range(0, DOCS), 1, 1000));
  const member = startMember(s);
  await waitFor(
    async () => {
      assertAlive(member);
      return (await rowCount(s)) >= 1000;
    },
    'writing to be under way',
    120_000,
  );

  // Kill every connection caught inside an INSERT (a batch transaction is open then), over
  // and over, until enough kills landed or the run is done. The sink's INSERTs are prepared
  // statements: the server lists them as 'Execute', not 'Query'.
  let killed = 0;
  const deadline = Date.now() + 120_000;
  while (killed < 15 && Date.now() < deadline && (await rowCount(s)) < DOCS) {
    assertAlive(member);
    const [writers] = (await s.knex.raw(
      "SELECT ID AS id FROM information_schema.PROCESSLIST WHERE DB = ? AND COMMAND IN ('Query', 'Execute') AND INFO LIKE 'insert%' AND ID <> CONNECTION_ID()",
      [s.database],
    )) as [{ id: number }[]];
    for (const { id } of writers) {
      await s.knex.raw('KILL ?', [id]).then(
        () => killed++,
        () => {}, // finished in the meantime
      );
    }
    // A batch's INSERT takes a few tens of milliseconds: look often enough to catch it.
    await new Promise((r) => setTimeout(r, 10));
  }
  t.ok(killed >= 5, `killed ${killed} connections in the middle of a write`);
  await waitForAllStored(s, 180_000, [member]);
  t.match(member.fullOutput(), /transient database error; retrying/, 'docpipe saw the lost connections and retried');
  const v = await verifyDelivery(t, s);
  t.equal(v.deadLetters.length, 0, 'a lost connection is not a data error: nothing dead-lettered');
  const { code } = await member.terminate();
  t.equal(code, 0, 'stops cleanly');
});
