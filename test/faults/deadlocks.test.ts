// Fault 6: deadlocks and lock-wait timeouts. A second writer updates overlapping rows in the
// opposite key order and holds its locks, while docpipe upserts newer versions of the same
// documents. A private MariaDB with a 1 s lock-wait timeout makes timeouts happen within the
// test (the shared server keeps its defaults). docpipe retries; nothing is dead-lettered.
import t from 'tap';
import { documents, range, scenario, startMember, verifyDelivery, waitForAllStored } from '../helpers/faults.js';
import { privateMariadb } from '../helpers/faultsServers.js';

const DOCS = 20_000;
const MAX_ROUNDS = 8;

t.test('deadlocks and lock-wait timeouts from a second writer: retried, nothing dead-lettered', async (t) => {
  const mariadb = await privateMariadb(t, ['--innodb-lock-wait-timeout=1']);
  const s = await scenario(t, 'deadlocks', { partitions: 3, db: mariadb.db });
  await s.ledger.send(s, documents(range(0, DOCS), 1));
  const member = startMember(s, { env: { DOCPIPE_BATCH_RECORDS: '500' } });
  await waitForAllStored(s, 180_000, [member]);

  // The second writer: descending key order (docpipe writes ascending), locks held a while.
  let stop = false;
  const conflicts = { deadlocks: 0, timeouts: 0, commits: 0 };
  const writer = async () => {
    // Short holds end in deadlocks; holds past the 1 s lock-wait timeout make docpipe time out.
    for (let i = 0; !stop; i++) {
      const from = Math.floor(Math.random() * (DOCS - 2000));
      await s.knex
        .transaction(async (trx) => {
          await trx.raw('UPDATE input_data SET score = score + 1 WHERE doc_id BETWEEN ? AND ? ORDER BY doc_id DESC', [from, from + 2000]);
          await trx.raw('SELECT SLEEP(?)', [i % 2 === 0 ? 0.3 : 1.5]);
        })
        .then(
          () => conflicts.commits++,
          (err: { errno?: number }) => {
            if (err.errno === 1213) conflicts.deadlocks++;
            else if (err.errno === 1205) conflicts.timeouts++;
            else throw err;
          },
        );
    }
  };
  const writers = [writer(), writer()];
  const retriesSoFar = () =>
    member
      .fullOutput()
      .split('\n')
      .filter((l) => l.includes('transient database error; retrying'));
  // docpipe writes a round in about a second, so whether a round meets a held lock is chance:
  // rounds of newer versions go on until one has (a bounded number of rounds, not a sleep).
  for (let version = 2; version <= 2 + MAX_ROUNDS; version++) {
    await s.ledger.send(s, documents(range(0, DOCS), version));
    await waitForAllStored(s, 240_000, [member]);
    if (version >= 3 && retriesSoFar().length > 0) break;
  }
  stop = true;
  await Promise.all(writers);

  const retries = retriesSoFar();
  const kinds = new Set(retries.map((l) => /ER_LOCK_DEADLOCK|ER_LOCK_WAIT_TIMEOUT/.exec(l)?.[0]).filter(Boolean));
  t.comment(`second writer: ${JSON.stringify(conflicts)}; docpipe retried ${retries.length} batches (${[...kinds].join(', ')})`);
  if (kinds.size === 0) t.comment(`docpipe's retries: ${retries.slice(0, 3).join('\n# ')}`);
  // InnoDB picks a deadlock's victim by the size of the transactions, so which writer loses a
  // given deadlock varies; that deadlocks happened, and that docpipe retried what hit it, do not.
  t.ok(conflicts.deadlocks > 0 || kinds.has('ER_LOCK_DEADLOCK'), 'deadlocks were provoked between the two writers');
  t.ok(kinds.size > 0, `docpipe retried the lock conflicts that hit it (${[...kinds].join(', ')})`);
  const v = await verifyDelivery(t, s);
  t.equal(v.deadLetters.length, 0, 'a lock conflict is not a data error: nothing dead-lettered');
  const { code } = await member.terminate();
  t.equal(code, 0, 'stops cleanly');
});
