// Fault: the dead-letter topic refuses records for a minute (its max.message.bytes is tiny)
// while 100,000 later records flow. The poison record's partition holds its commit at it and,
// at its limit of records outstanding, pauses; the others go on; the record is named in
// /readyz and in docpipe_partition_stuck_seconds; RSS stays within the budget all along. Once
// the topic takes the record, the partition moves on and everything lands.
import t from 'tap';
import Kafka from '@confluentinc/kafka-javascript';
import { assertAlive, documents, range, scenario, startMember, verifyDelivery, waitFor, waitForAllStored } from '../helpers/faults.js';
import { freeBasePort } from '../helpers/faultsServers.js';

const LATER = 100_000;
const REFUSING_MS = 60_000;

t.test('a dead-letter topic refusing for a minute while 100,000 records flow: bounded, named, then resumed', async (t) => {
  const s = await scenario(t, 'dlq_refusing', { partitions: 3 });
  const admin = Kafka.AdminClient.create({ 'bootstrap.servers': s.brokers, log_level: 0 });
  t.teardown(() => admin.disconnect());
  await new Promise<void>((ok, fail) =>
    admin.createTopic({ topic: `${s.topic}.dlq`, num_partitions: 1, replication_factor: 1, config: { 'max.message.bytes': '100' } }, 10_000, (err) =>
      err ? fail(err) : ok(),
    ),
  );
  await s.ledger.send(s, [{ key: 'poison', value: `not json ${'x'.repeat(600)}`, expect: 'dead' }]);
  const poison = s.ledger.acked.find((r) => r.key === 'poison')!;
  const member = startMember(s, { metricsPort: await freeBasePort([0]) });
  const refusingSince = Date.now();
  await s.ledger.send(s, documents(range(0, LATER), 1));

  // The poison record's partition stops at its limit; the other two drain.
  await waitFor(() => /partition paused: its oldest record is not done/.test(member.fullOutput()), 'the poison partition to pause at its limit', 120_000);
  const readyz = await waitFor(
    async () => {
      assertAlive(member);
      const r = await fetch(`http://127.0.0.1:${member.metricsPort}/readyz`);
      const text = await r.text();
      return r.status === 503 && text.startsWith('stuck:') ? text : undefined;
    },
    '/readyz to name the stuck record',
    REFUSING_MS + 30_000,
    500,
  );
  t.match(readyz, new RegExp(`stuck: ${s.topic}\\[${poison.partition}\\]@${poison.offset} not done for \\d+ s, \\d+ records behind it, partition paused`));
  t.ok(((await member.metric('docpipe_partition_stuck_seconds')) ?? 0) >= 60, 'docpipe_partition_stuck_seconds counts the minute');
  await new Promise((r) => setTimeout(r, Math.max(0, REFUSING_MS - (Date.now() - refusingSince))));
  assertAlive(member);

  // Writable again: the topic is deleted, and re-created by the broker with its defaults.
  await new Promise<void>((ok, fail) => admin.deleteTopic(`${s.topic}.dlq`, 10_000, (err) => (err ? fail(err) : ok())));
  await waitForAllStored(s, 180_000, [member]);
  await waitFor(async () => (await fetch(`http://127.0.0.1:${member.metricsPort}/readyz`)).status === 200, '/readyz to recover', 60_000);
  const v = await verifyDelivery(t, s);
  t.equal(v.deadLetters.find((d) => d.key === 'poison')?.errorClass, 'SyntaxError', 'the poison record reached the dead-letter topic');
  const { code } = await member.terminate();
  t.equal(code, 0, 'stops cleanly');
});
