// Fault 8: a database stall longer than max.poll.interval.ms (the table locked by another
// session for 2.5 times that). Whether the member keeps its partitions by polling while paused
// or is evicted and rejoins, nothing may be lost and it must not die.
import t from 'tap';
import { knexClient } from '../../sinks/knexClient.js';
import { assertAlive, documents, range, rowCount, scenario, startMember, verifyDelivery, waitFor, waitForAllStored } from '../helpers/faults.js';

const MAX_POLL_MS = 8000;
const STALL_MS = 20_000;

t.test('a database stall longer than max.poll.interval.ms: the member stays or rejoins; nothing lost', async (t) => {
  const s = await scenario(t, 'db_stall', { partitions: 3 });
  await s.ledger.send(s, documents(range(0, 10_000)));
  const member = startMember(s, {
    rdkafka: { 'max.poll.interval.ms': MAX_POLL_MS, 'session.timeout.ms': 6000, 'heartbeat.interval.ms': 1000 },
    env: { DOCPIPE_LOG_LEVEL: 'info' },
  });
  await waitFor(
    async () => {
      assertAlive(member);
      return (await rowCount(s)) >= 1000;
    },
    'writing to be under way',
    120_000,
  );

  const conn = (await knexClient(s.knex).acquireConnection()) as { query: (sql: string, cb: (err: Error | null) => void) => void };
  const query = (sql: string) => new Promise<void>((ok, fail) => conn.query(sql, (err) => (err ? fail(err) : ok())));
  let locked = true;
  await query('LOCK TABLES input_data WRITE');
  t.teardown(async () => {
    if (locked) await query('UNLOCK TABLES');
    await knexClient(s.knex).releaseConnection(conn);
  });
  const stalledAt = Date.now();
  await s.ledger.send(s, documents(range(10_000, 30_000)));
  // The stall is the fault itself: it has to outlast max.poll.interval.ms.
  while (Date.now() - stalledAt < STALL_MS) {
    assertAlive(member);
    await new Promise((r) => setTimeout(r, 500));
  }
  await query('UNLOCK TABLES');
  locked = false;

  await waitForAllStored(s, 180_000, [member]);
  const rebalances = (member.fullOutput().match(/revoked|assigned|max\.poll/gi) ?? []).length;
  t.comment(`group events in docpipe's log: ${rebalances}`);
  const { code } = await member.terminate();
  t.equal(code, 0, 'stops cleanly after the stall');
  await verifyDelivery(t, s);
});
