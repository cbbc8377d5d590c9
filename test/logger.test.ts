import t from 'tap';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { redactPaths } from '../pipeline/cli/logger.js';

t.test('passwords never reach a log line', async (t) => {
  let out = '';
  const sink = new Writable({ write: (chunk: Buffer, _e, done) => ((out += chunk.toString()), done()) });
  const log = pino({ redact: { paths: redactPaths, censor: '[redacted]' } }, sink);
  log.info({ db: { host: 'h', password: 'hunter2' }, rdkafka: { 'sasl.password': 's3cret', 'sasl.username': 'u' }, password: 'top' }, 'starting');
  t.notMatch(out, /hunter2|s3cret|"top"/);
  t.match(out, /"sasl.username":"u"/, 'other settings stay');
  t.match(out, /\[redacted\]/);
});

t.test('librdkafka debug output reaches the log without secrets', async (t) => {
  const { redactSecrets } = await import('../pipeline/kafka/kafkaSource.js');
  t.equal(
    redactSecrets('sasl.password = hunter2 and ssl.key.password=abc; token: xyz'),
    'sasl.password = [redacted] and ssl.key.password=[redacted] token: [redacted]',
  );
  t.equal(redactSecrets('sasl.password = [redacted]'), 'sasl.password = [redacted]');

  const { KafkaSource } = await import('../pipeline/kafka/kafkaSource.js');
  const { InFlightBudget } = await import('../pipeline/core/inFlightBudget.js');
  const { kafkaBrokers, uniqueName } = await import('./helpers/stack.js');
  let out = '';
  const sink = new Writable({ write: (chunk: Buffer, _e, done) => ((out += chunk.toString()), done()) });
  const logger = pino({ level: 'debug', redact: { paths: redactPaths, censor: '[redacted]' } }, sink);
  const source = new KafkaSource({
    brokers: kafkaBrokers,
    groupId: uniqueName('g'),
    topics: [uniqueName('nothing')],
    budget: new InFlightBudget({ maxRecords: 10, maxBytes: 1000, lowWater: 0.5 }),
    rdkafka: { debug: 'conf', 'ssl.key.password': 'hunter2secret' },
    logger,
  });
  const sub = source.records().subscribe({ error: () => {} });
  const deadline = Date.now() + 10_000;
  while (!/ssl\.key\.password/.test(out) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  sub.unsubscribe();
  await source.close();
  t.match(out, /ssl\.key\.password/, 'the config dump was logged');
  t.notMatch(out, /hunter2secret/, 'without the secret');
});
