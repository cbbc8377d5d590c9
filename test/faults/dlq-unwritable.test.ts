// Fault 10: the dead-letter topic refuses the poison record (its max.message.bytes is tiny).
// The partition's committed offset must stop at the poison record, however long that lasts,
// while later records are still written; once the topic accepts it, the partition moves on.
// Through the CLI and its default `<topic>.dlq` name (the in-process case is in pipeline.test.ts).
import t from 'tap';
import Kafka from '@confluentinc/kafka-javascript';
import {
  committedOffsets,
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

t.test('an unwritable dead-letter topic holds the partition at the poison record; it resumes once writable', async (t) => {
  const s = await scenario(t, 'dlq_unwritable', { partitions: 1 });
  const admin = Kafka.AdminClient.create({ 'bootstrap.servers': s.brokers, log_level: 0 });
  t.teardown(() => admin.disconnect());
  await new Promise<void>((ok, fail) =>
    admin.createTopic({ topic: `${s.topic}.dlq`, num_partitions: 1, replication_factor: 1, config: { 'max.message.bytes': '100' } }, 10_000, (err) =>
      err ? fail(err) : ok(),
    ),
  );
  await s.ledger.send(s, documents(range(0, 2000)));
  await s.ledger.send(s, [{ key: 'poison', value: `not json ${'x'.repeat(600)}`, expect: 'dead' }]);
  await s.ledger.send(s, documents(range(2000, 4000)));
  const poisonAt = s.ledger.acked.find((r) => r.key === 'poison')!.offset;

  const member = startMember(s);
  await waitFor(
    async () => {
      assertAlive(member);
      return (await rowCount(s)) === 4000;
    },
    'the good records on both sides of the poison one',
    120_000,
  );
  await waitFor(async () => (await committedOffsets(s))[0] === poisonAt, 'the commit up to the poison record', 30_000);
  // Many commit intervals (200 ms) pass; every sample must stay at the poison record.
  for (let i = 0; i < 10; i++) {
    await new Promise((r) => setTimeout(r, 300));
    assertAlive(member);
    t.same(await committedOffsets(s), [poisonAt], 'held at the poison record', { diagnostic: false });
  }

  // Writable again: the topic is deleted, and re-created by the broker with its defaults.
  await new Promise<void>((ok, fail) => admin.deleteTopic(`${s.topic}.dlq`, 10_000, (err) => (err ? fail(err) : ok())));
  await waitForAllStored(s, 120_000, [member]);
  const v = await verifyDelivery(t, s);
  t.equal(v.deadLetters.find((d) => d.key === 'poison')?.errorClass, 'SyntaxError', 'the poison record reached the dead-letter topic');
  const { code } = await member.terminate();
  t.equal(code, 0, 'stops cleanly');
});
