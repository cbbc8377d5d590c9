// Fault 12: SIGTERM while the database, or the broker, cannot be reached. The stop may not
// finish its work, but it must end within its drain deadline; what it had not finished is
// read again by the next run. Private servers: the shared ones are never taken down.
import t from 'tap';
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
} from '../helpers/faults.js';
import { privateKafka, privateMariadb } from '../helpers/faultsServers.js';

const DRAIN_MS = 5000;
/** How late past its drain deadline a stop may exit: process exit, closing the pool and the consumer. */
const EXIT_MARGIN_MS = 5000;

t.test('shutdown while a server is unreachable exits within its deadline', async (t) => {
  const kafka = await privateKafka(t, { nodes: 1 });
  const mariadb = await privateMariadb(t);
  const env = { DOCPIPE_DRAIN_TIMEOUT_MS: String(DRAIN_MS) };

  t.test('the database unreachable', async (t) => {
    const s = await scenario(t, 'stop_no_db', { partitions: 3, brokers: kafka.brokers, db: mariadb.db, keepTopic: true });
    await s.ledger.send(s, documents(range(0, 30_000)));
    const member = startMember(s, { env });
    await waitFor(
      async () => {
        assertAlive(member);
        return (await rowCount(s)) >= 2000;
      },
      'writing to be under way',
      120_000,
    );
    await mariadb.kill();
    await waitFor(() => /transient database error; retrying/.test(member.fullOutput()), 'docpipe to notice the database is gone', 60_000);
    const { code, ms, hung } = await member.terminate(DRAIN_MS + 30_000);
    t.ok(
      !hung && ms <= DRAIN_MS + EXIT_MARGIN_MS,
      `exited ${hung ? 'not at all' : `${ms} ms`} after SIGTERM, code ${String(code)} (deadline ${DRAIN_MS} ms + ${EXIT_MARGIN_MS} ms)\n${member.output()}`,
    );
    await mariadb.start();
    await checkCommitsBehindWrites(t, s, 'after the stop without a database');
    const next = startMember(s, { env });
    await waitForAllStored(s, 180_000, [next]);
    await next.terminate();
    await verifyDelivery(t, s);
  });

  t.test('the broker unreachable', async (t) => {
    const s = await scenario(t, 'stop_no_broker', { partitions: 3, brokers: kafka.brokers, db: mariadb.db, keepTopic: true });
    await s.ledger.send(s, documents(range(0, 30_000)));
    const member = startMember(s, { env });
    await waitFor(
      async () => {
        assertAlive(member);
        return (await rowCount(s)) >= 2000;
      },
      'writing to be under way',
      120_000,
    );
    await kafka.stop();
    const { code, ms, hung } = await member.terminate(DRAIN_MS + 30_000);
    t.ok(
      !hung && ms <= DRAIN_MS + EXIT_MARGIN_MS,
      `exited ${hung ? 'not at all' : `${ms} ms`} after SIGTERM, code ${String(code)} (deadline ${DRAIN_MS} ms + ${EXIT_MARGIN_MS} ms)\n${member.output(3000)}`,
    );
    await kafka.start();
    await checkCommitsBehindWrites(t, s, 'after the stop without a broker');
    const next = startMember(s, { env });
    await waitForAllStored(s, 180_000, [next]);
    await next.terminate();
    await verifyDelivery(t, s);
  });
});
