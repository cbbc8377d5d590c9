import t from 'tap';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { redactPaths } from '../pipeline/logger.js';

t.test('passwords never reach a log line', async (t) => {
  let out = '';
  const sink = new Writable({ write: (chunk: Buffer, _e, done) => ((out += chunk.toString()), done()) });
  const log = pino({ redact: { paths: redactPaths, censor: '[redacted]' } }, sink);
  log.info({ db: { host: 'h', password: 'hunter2' }, rdkafka: { 'sasl.password': 's3cret', 'sasl.username': 'u' }, password: 'top' }, 'starting');
  t.notMatch(out, /hunter2|s3cret|"top"/);
  t.match(out, /"sasl.username":"u"/, 'other settings stay');
  t.match(out, /\[redacted\]/);
});
