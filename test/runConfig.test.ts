import t from 'tap';
import { join } from 'node:path';
import { resolveRunSettings } from '../pipeline/cli/runConfig.js';
import { ConfigError } from '../pipeline/cli/env.js';

const errorOf = (fn: () => unknown): ConfigError | undefined => {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  return undefined;
};

t.test('defaults, then file, then environment, then flags', async (t) => {
  const dir = t.testdir({
    'docpipe.yaml':
      'kafka:\n  topics: [a, b]\n  groupId: from-file\n  rdkafka:\n    session.timeout.ms: 6000\ndb:\n  port: 3307\ntable: file_table\nbatch:\n  maxRecords: 500\n',
  });
  const file = join(dir, 'docpipe.yaml');
  const defaults = resolveRunSettings({ env: {} });
  t.same(defaults.topics, ['documents']);
  t.equal(defaults.sinkConcurrency, 3);
  const fromFile = resolveRunSettings({ file, env: {} });
  t.same(fromFile.topics, ['a', 'b']);
  t.equal(fromFile.groupId, 'from-file');
  t.equal(fromFile.db.port, 3307);
  t.equal(fromFile.batchRecords, 500);
  t.same(fromFile.rdkafka, { 'session.timeout.ms': 6000 });
  const envWins = resolveRunSettings({ file, env: { DOCPIPE_GROUP_ID: 'from-env', DOCPIPE_DB_PORT: '3308' } });
  t.equal(envWins.groupId, 'from-env');
  t.equal(envWins.db.port, 3308);
  t.equal(envWins.table, 'file_table', 'what the environment does not set still comes from the file');
  const flagWins = resolveRunSettings({ file, env: { DOCPIPE_GROUP_ID: 'from-env' }, flags: { 'group-id': 'from-flag', topics: 'x,y' } });
  t.equal(flagWins.groupId, 'from-flag');
  t.same(flagWins.topics, ['x', 'y']);
});

t.test('a JSON config file works too', async (t) => {
  const dir = t.testdir({ 'c.json': JSON.stringify({ kafka: { brokers: 'k:1' }, autoMigrate: false }) });
  const s = resolveRunSettings({ file: join(dir, 'c.json'), env: {} });
  t.equal(s.kafkaBrokers, 'k:1');
  t.equal(s.autoMigrate, false);
});

t.test('every bad value names its key and the expected form', async (t) => {
  const dir = t.testdir({
    'wrong-type.yaml': 'db:\n  port: "3306x"\n',
    'unknown.yaml': 'kafka:\n  grupId: x\n',
    'typo.yaml': 'kafka:\n  groupid: x\n',
    'list.yaml': '- a\n- b\n',
    'broken.yaml': 'kafka: [\n',
    'rdkafka.yaml': 'kafka:\n  rdkafka:\n    a: {b: 1}\n',
  });
  t.match(
    errorOf(() => resolveRunSettings({ file: join(dir, 'wrong-type.yaml'), env: {} }))?.message,
    'config key "db.port" must be a TCP port number (1-65535), or 0 for the client\'s own, got "3306x"',
  );
  t.match(errorOf(() => resolveRunSettings({ file: join(dir, 'unknown.yaml'), env: {} }))?.message, /unknown config key "kafka.grupId"/);
  t.match(errorOf(() => resolveRunSettings({ file: join(dir, 'typo.yaml'), env: {} }))?.message, /did you mean kafka.groupId\?/);
  t.match(errorOf(() => resolveRunSettings({ file: join(dir, 'list.yaml'), env: {} }))?.message, /a mapping of settings/);
  t.match(errorOf(() => resolveRunSettings({ file: join(dir, 'broken.yaml'), env: {} }))?.message, /--config must be valid YAML or JSON/);
  t.match(errorOf(() => resolveRunSettings({ file: join(dir, 'rdkafka.yaml'), env: {} }))?.key, 'config key "kafka.rdkafka"["a"]');
  t.match(errorOf(() => resolveRunSettings({ file: join(dir, 'missing.yaml'), env: {} }))?.message, /no such file/);
  t.equal(errorOf(() => resolveRunSettings({ env: { DOCPIPE_RDKAFKA: 'session.timeout.ms=6000' } }))?.key, 'DOCPIPE_RDKAFKA');
  t.equal(errorOf(() => resolveRunSettings({ env: { DOCPIPE_TOPICS: 'ok,bad topic' } }))?.key, 'DOCPIPE_TOPICS');
  t.equal(errorOf(() => resolveRunSettings({ env: { DOCPIPE_AUTO_MIGRATE: 'maybe' } }))?.key, 'DOCPIPE_AUTO_MIGRATE');
  t.equal(errorOf(() => resolveRunSettings({ env: {}, flags: { 'max-inflight-records': '-5' } }))?.key, '--max-inflight-records');
  t.match(errorOf(() => resolveRunSettings({ env: {}, flags: { table: 'drop table;' } }))?.message, "--table must be 1-64 letters, digits, '_' or ${topic}");
});
