// Fault 4: the broker goes away under load. One node restarted mid-run; then, in the
// three-node mode, the leader of a partition killed with SIGKILL and started again later.
// Private brokers: the shared one on 9092 serves everyone else's tests.
import t from 'tap';
import Kafka from '@confluentinc/kafka-javascript';
import { assertAlive, documents, range, rowCount, scenario, startMember, verifyDelivery, waitFor, waitForAllStored } from '../helpers/faults.js';
import { privateKafka } from '../helpers/faultsServers.js';

t.test('the broker restarted mid-run: nothing lost, no duplicates', async (t) => {
  const kafka = await privateKafka(t, { nodes: 1 });
  const s = await scenario(t, 'broker_restart', { partitions: 3, brokers: kafka.brokers, keepTopic: true });
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
  // Sent across the restart: the producer's retries carry these over it.
  const during = s.ledger.send(s, documents(range(20_000, 40_000)));
  // Awaited below; a failure meanwhile must not surface as an unhandled rejection.
  during.catch(() => {});
  await kafka.restart();
  await during;
  await s.ledger.send(s, documents(range(0, 5000), 2));
  await waitForAllStored(s, 240_000, [member]);
  const { code } = await member.terminate();
  t.equal(code, 0, 'the member that lived through the restart stops cleanly');
  await verifyDelivery(t, s);
});

t.test('three nodes: the leader of a partition killed mid-run, then started again', async (t) => {
  const kafka = await privateKafka(t, { nodes: 3 });
  const s = await scenario(t, 'leader_kill', { partitions: 3, brokers: kafka.brokers, keepTopic: true });
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

  // A fresh client per look, through the nodes still up: a long-lived one keeps asking the dead node.
  const leaderOf0 = async (nodes: string) => {
    const admin = Kafka.AdminClient.create({ 'bootstrap.servers': nodes, log_level: 0 });
    try {
      const [topic] = await new Promise<{ partitions: { partition: number; leader: { id: number } | null }[] }[]>((ok, fail) =>
        admin.describeTopics([s.topic], { timeout: 5000 }, (err, r) => (err ? fail(err) : ok(r))),
      );
      return topic?.partitions.find((p) => p.partition === 0)?.leader?.id;
    } finally {
      admin.disconnect();
    }
  };
  const leader = await leaderOf0(kafka.brokers);
  t.ok(leader, `partition 0 is led by node ${String(leader)}`);
  const during = s.ledger.send(s, documents(range(20_000, 40_000)));
  // Awaited below; a failure meanwhile must not surface as an unhandled rejection.
  during.catch(() => {});
  await kafka.stopNode(leader!, true);
  await waitFor(
    async () => {
      const survivors = [1, 2, 3]
        .filter((n) => n !== leader)
        .map((n) => kafka.node(n))
        .join(',');
      const now = await leaderOf0(survivors).catch(() => undefined);
      return now !== undefined && now !== leader;
    },
    'a new leader for partition 0',
    60_000,
    500,
  );
  await during;
  await s.ledger.send(s, documents(range(0, 5000), 2));
  await waitFor(
    async () => {
      assertAlive(member);
      return (await rowCount(s)) >= 40_000;
    },
    'every document written while a node is down',
    240_000,
  );
  await kafka.startNode(leader!);
  await waitForAllStored(s, 240_000, [member]);
  const { code } = await member.terminate();
  t.equal(code, 0, 'the member that lived through the failover stops cleanly');
  await verifyDelivery(t, s);
});
