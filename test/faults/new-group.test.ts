// Fault 11: a new consumer group starts on a topic whose backlog is already there (several
// versions of each document) and ingests all of it, at the latest version.
import t from 'tap';
import { documents, range, scenario, startMember, verifyDelivery, waitForAllStored } from '../helpers/faults.js';

t.test('a new consumer group on an existing backlog ingests all of it', async (t) => {
  const s = await scenario(t, 'new_group', { partitions: 4 });
  await s.ledger.send(s, documents(range(0, 40_000), 1));
  await s.ledger.send(s, documents(range(0, 10_000), 2));
  const member = startMember(s);
  await waitForAllStored(s, 180_000, [member]);
  const { code } = await member.terminate();
  t.equal(code, 0, 'stops cleanly');
  await verifyDelivery(t, s);
});
