// Exits 0 when a Kafka client can fetch cluster metadata listing at least EXPECT brokers
// from BOOTSTRAP within TIMEOUT_MS, 1 otherwise. Used by kafka.sh to decide "ready": an
// open port is not enough, the broker must have joined its controller quorum.
//
//   node kafka-ready.mjs 127.0.0.1:9092 1 3000
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const Kafka = require('@confluentinc/kafka-javascript');

const [bootstrap, expectArg = '1', timeoutArg = '3000'] = process.argv.slice(2);
const expect = Number(expectArg);
const timeout = Number(timeoutArg);

const producer = new Kafka.Producer({
  'metadata.broker.list': bootstrap,
  'socket.connection.setup.timeout.ms': timeout,
  log_level: 0,
});

const finish = (code, message) => {
  if (message) console.error(message);
  producer.disconnect(() => process.exit(code));
  // disconnect can hang on a broker that never answered; the verdict is already known.
  setTimeout(() => process.exit(code), 1000).unref();
};

producer.on('event.error', () => {});
producer.connect({ timeout }, (err) => {
  if (err) return finish(1, `not ready: ${err.message}`);
  producer.getMetadata({ timeout }, (metaErr, metadata) => {
    if (metaErr) return finish(1, `not ready: ${metaErr.message}`);
    const brokers = metadata.brokers.length;
    if (brokers < expect) return finish(1, `not ready: ${brokers} of ${expect} brokers`);
    finish(0);
  });
});
