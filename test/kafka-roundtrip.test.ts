// The harness works: messages produced to a fresh topic on the real broker all come back
// through a consumer group, each partition in produce order.
import t from 'tap';
import Kafka, { type LibrdKafkaError, type Message } from '@confluentinc/kafka-javascript';
import { createTopic, kafkaBrokers, uniqueName } from './helpers/stack.js';
import { disconnectProducer } from '../pipeline/kafka/disconnectProducer.js';

const COUNT = 300;
const PARTITIONS = 3;

const produceAll = async (topic: string): Promise<number> => {
  const producer = new Kafka.Producer({
    'bootstrap.servers': kafkaBrokers,
    dr_cb: true,
    'enable.idempotence': true,
    log_level: 0,
  });
  await new Promise<void>((resolve, reject) => producer.connect({ timeout: 10_000 }, (err) => (err ? reject(err) : resolve())));
  producer.setPollInterval(50);
  let acked = 0;
  const done = new Promise<void>((resolve, reject) => {
    producer.on('delivery-report', (err) => {
      if (err) return reject(err);
      if (++acked === COUNT) resolve();
    });
  });
  for (let i = 0; i < COUNT; i++) {
    producer.produce(topic, null, Buffer.from(JSON.stringify({ n: i })), `key-${i % 17}`);
  }
  await done;
  await disconnectProducer(producer);
  return acked;
};

t.test('every produced message is read back through a consumer group', async (t) => {
  const topic = await createTopic(t, 'roundtrip', PARTITIONS);
  t.equal(await produceAll(topic), COUNT, 'the broker acknowledged every message');

  const consumer = new Kafka.KafkaConsumer(
    {
      'bootstrap.servers': kafkaBrokers,
      'group.id': uniqueName('roundtrip'),
      'enable.auto.commit': false,
      log_level: 0,
    },
    { 'auto.offset.reset': 'earliest' },
  );
  await new Promise<void>((resolve, reject) => consumer.connect({ timeout: 10_000 }, (err) => (err ? reject(err) : resolve())));
  t.teardown(() => new Promise<void>((resolve) => consumer.disconnect(() => resolve())));
  // Without it consume(n) waits the default timeout for every missing message.
  consumer.setDefaultConsumeTimeout(200);
  consumer.subscribe([topic]);

  const seen: Message[] = [];
  const deadline = Date.now() + 60_000;
  while (seen.length < COUNT && Date.now() < deadline) {
    const batch = await new Promise<Message[]>((resolve, reject) =>
      consumer.consume(100, (err: LibrdKafkaError, messages: Message[]) => (err ? reject(err) : resolve(messages))),
    );
    seen.push(...batch);
  }

  t.equal(seen.length, COUNT, 'as many messages read as produced');
  const values = new Set(seen.map((m) => (JSON.parse(String(m.value)) as { n: number }).n));
  t.equal(values.size, COUNT, 'each message read exactly once');
  t.same(new Set(seen.map((m) => m.partition)), new Set([0, 1, 2]), 'all partitions were read');
  for (let p = 0; p < PARTITIONS; p++) {
    const offsets = seen.filter((m) => m.partition === p).map((m) => m.offset);
    t.same(
      offsets,
      [...offsets].sort((a, b) => a - b),
      `partition ${p} arrives in offset order`,
    );
    t.equal(offsets[0], 0, `partition ${p} is read from its first offset`);
  }
  const wrongKeys = seen.filter((m) => String(m.key) !== `key-${(JSON.parse(String(m.value)) as { n: number }).n % 17}`);
  t.same(wrongKeys, [], 'every message keeps the key it was produced with');
});
