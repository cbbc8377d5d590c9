import t from 'tap';
import { ConfigError } from '../pipeline/cli/env.js';
import { connectionFromEnv } from '../pipeline/cli/runConfig.js';

t.test('defaults match the local stack', async (t) => {
  t.same(connectionFromEnv({}), {
    kafkaBrokers: '127.0.0.1:9092',
    rdkafka: {},
    db: { host: '127.0.0.1', port: 3306, user: 'docpipe', password: 'docpipe', database: 'docpipe' },
    target: { host: '127.0.0.1', port: 3306, user: 'docpipe', password: 'docpipe', database: 'docpipe' },
  });
});

t.test('the database client picks the target and its default port', async (t) => {
  t.same(connectionFromEnv({ DOCPIPE_DB_CLIENT: 'postgresql', DOCPIPE_DB_SSL: 'true' }).target, {
    client: 'postgresql',
    host: '127.0.0.1',
    port: 5432,
    user: 'docpipe',
    password: 'docpipe',
    database: 'docpipe',
    ssl: true,
  });
  t.same(connectionFromEnv({ DOCPIPE_DB_CLIENT: 'sqlite', DOCPIPE_DB_FILE: '/tmp/x.db' }).target, { client: 'sqlite', filename: '/tmp/x.db' });
  t.equal(connectionFromEnv({ DOCPIPE_DB_CLIENT: 'postgresql', DOCPIPE_DB_PORT: '6543' }).target.client, 'postgresql');
  t.throws(() => connectionFromEnv({ DOCPIPE_DB_CLIENT: 'oracle' }), {
    key: 'DOCPIPE_DB_CLIENT',
    message: /must be mysql, postgresql or sqlite, got "oracle"/,
  });
});

t.test('environment overrides defaults', async (t) => {
  const c = connectionFromEnv({ DOCPIPE_DB_PORT: '3307', DOCPIPE_KAFKA_BROKERS: 'a:1,b:2', DOCPIPE_DB_PASSWORD: '' });
  t.equal(c.db.port, 3307);
  t.equal(c.kafkaBrokers, 'a:1,b:2');
  t.equal(c.db.password, '', 'an empty password is a password');
});

t.test('a malformed port names the key and the expected form', async (t) => {
  t.throws(() => connectionFromEnv({ DOCPIPE_DB_PORT: 'mysql' }), {
    name: 'ConfigError',
    key: 'DOCPIPE_DB_PORT',
    message: 'DOCPIPE_DB_PORT must be a TCP port number (1-65535), or 0 for the client\'s own, got "mysql"',
  });
  t.throws(() => connectionFromEnv({ DOCPIPE_DB_PORT: '70000' }), ConfigError);
});
