// The producer on the real broker: acknowledged sends, documents keyed by doc_id, a bounded
// queue that makes callers wait, batch failures reported per message, and a close that cannot
// race the native disconnect.
import t from 'tap';
import { randomBytes } from 'node:crypto';
import Kafka from '@confluentinc/kafka-javascript';
import { disconnectProducer } from '../pipeline/kafka/disconnectProducer.js';
import { DocumentProducer, SendBatchError } from '../pipeline/kafka/documentProducer.js';
import { parseJsonExact } from '../pipeline/core/exactJson.js';
import { createTopic, kafkaBrokers } from './helpers/stack.js';
import { readAll } from './helpers/kafka.js';

t.test('documents are keyed by doc_id, exact, and versions share a partition', async (t) => {
  const topic = await createTopic(t, 'producer', 4);
  const producer = await DocumentProducer.open({ brokers: kafkaBrokers, maxPending: 10 });
  t.teardown(() => producer.close());
  const sends = [];
  for (let version = 1; version <= 3; version++) {
    for (let id = 0; id < 200; id++) {
      const docId = id === 0 ? 9223372036854775807n : BigInt(id);
      sends.push(producer.sendDocument(topic, { doc_id: docId, title: `v${version}`, body: '中文' }));
    }
  }
  const delivered = await Promise.all(sends);
  t.equal(delivered.length, 600, 'every send resolved with its delivery');
  t.ok(producer.maxPendingSeen <= 10, `never more than 10 waiting for reports (saw ${producer.maxPendingSeen})`);

  const messages = await readAll(topic, 600);
  t.equal(messages.length, 600);
  const partitionOf = new Map<string, Set<number>>();
  for (const m of messages) {
    const key = String(m.key);
    const doc = parseJsonExact(String(m.value), ['doc_id']);
    t.equal(String(doc['doc_id']), key, 'keyed by doc_id');
    partitionOf.set(key, (partitionOf.get(key) ?? new Set()).add(m.partition));
  }
  t.ok(
    [...partitionOf.values()].every((s) => s.size === 1),
    'all versions of a document share a partition',
  );
  t.ok(partitionOf.has('9223372036854775807'), 'the largest int64 doc_id is written exactly');
});

t.test('sendBatch reports the messages that were not acknowledged', async (t) => {
  const topic = await createTopic(t, 'producerbatch', 1, { 'max.message.bytes': '2000' });
  const producer = await DocumentProducer.open({ brokers: kafkaBrokers });
  t.teardown(() => producer.close());
  const ok = await producer.sendBatch([
    { topic, value: 'a', key: '1' },
    { topic, value: 'b', key: '2' },
  ]);
  t.same(
    ok.map((d) => d.offset),
    [0, 1],
  );
  const err = await producer
    .sendBatch([
      { topic, value: 'small', key: '3' },
      { topic, value: randomBytes(10_000).toString('base64'), key: 'too-big' }, // incompressible
      { topic, value: 'small', key: '4' },
    ])
    .catch((e: unknown) => e);
  t.type(err, SendBatchError);
  const e = err as SendBatchError;
  // The broker refuses the whole record batch the oversized message travelled in, so its
  // neighbours may fail with it; each failure is reported with its index and reason.
  t.ok(
    e.failures.some((f) => f.index === 1),
    'the oversized message is reported',
  );
  t.ok(
    e.failures.every((f) => /too large/i.test(f.error.message)),
    'with the reason',
  );
  t.match(e.message, /of 3 messages were not acknowledged: .*#1: .*too large/i);
  for (const f of e.failures) t.equal(e.delivered[f.index], undefined);
  const after = await producer.sendBatch([{ topic, value: 'c', key: '5' }]);
  t.equal(after.length, 1, 'the producer stays usable');
});

t.test('an unreachable broker is reported within seconds', async (t) => {
  const started = Date.now();
  await t.rejects(DocumentProducer.open({ brokers: '127.0.0.1:1', connectTimeoutMs: 3000 }), { name: 'KafkaConnectError' });
  t.ok(Date.now() - started < 10_000);
});

t.test('a polling producer stops its poll timer before the native disconnect starts', async (t) => {
  const topic = await createTopic(t, 'producerclose', 1);
  const producer = new Kafka.Producer({ 'bootstrap.servers': kafkaBrokers, dr_cb: true, log_level: 0 });
  await new Promise<void>((resolve, reject) => producer.connect({ timeout: 10_000 }, (err) => (err ? reject(err) : resolve())));
  producer.setPollInterval(10);
  const delivered = new Promise<void>((resolve) => producer.once('delivery-report', () => resolve()));
  producer.produce(topic, null, Buffer.from('x'), 'k');
  await delivered;
  // The binding's own names: its timer, and the step that destroys the native handle (which
  // its poll does not wait for).
  const internals = producer as unknown as { pollInterval: unknown; _disconnect: (cb: () => void) => void };
  t.ok(internals.pollInterval, 'the timer runs while the producer is open');
  let timerAtDisconnect: unknown = 'not reached';
  const destroy = internals._disconnect.bind(producer);
  internals._disconnect = (cb) => {
    timerAtDisconnect = internals.pollInterval;
    destroy(cb);
  };
  t.equal(await disconnectProducer(producer, 10_000), undefined, 'the flush succeeded');
  t.equal(timerAtDisconnect, undefined, 'no poll timer when the handle is destroyed');
});
