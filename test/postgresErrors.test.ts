import t from 'tap';
import knex from 'knex';
import { classifyPostgresError, describePostgresError } from '../sinks/postgresErrors.js';
import { createPostgresKnex } from '../sinks/createPostgresKnex.js';
import { freshPostgresDatabase, pg } from './helpers/postgres.js';

t.test('connection, concurrency and server-state errors are transient', async (t) => {
  for (const code of ['08000', '08003', '08006', '08001', '08004', '08P01', '40001', '40P01', '55P03', '57014', '57P01', '57P02', '57P03', '57P05']) {
    t.equal(classifyPostgresError({ code }), 'transient', code);
  }
  for (const code of ['53000', '53100', '53200', '53300', '25006']) {
    t.equal(classifyPostgresError({ code }), 'transient', code);
  }
  for (const code of ['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']) {
    t.equal(classifyPostgresError(Object.assign(new Error(`connect ${code}`), { code })), 'transient', code);
  }
  t.equal(classifyPostgresError(new Error('Connection terminated unexpectedly')), 'transient');
  t.equal(classifyPostgresError(new Error('INSERT INTO t (a) VALUES ($1) - Connection terminated unexpectedly')), 'transient', 'behind knex’s SQL prefix');
  t.equal(classifyPostgresError(new Error('Connection terminated due to connection timeout')), 'transient');
  t.equal(classifyPostgresError({ name: 'KnexTimeoutError', message: 'Knex: Timeout acquiring a connection.' }), 'transient');
});

t.test('data and constraint errors are the record’s', async (t) => {
  for (const code of ['22001', '22003', '22P02', '22021', '22P05', '22007', '22008', '22012', '23502', '23505', '23514', '23503', '23P01']) {
    t.equal(classifyPostgresError({ code }), 'record', code);
  }
});

t.test('everything else is fatal', async (t) => {
  for (const code of ['28000', '28P01', '42P01', '42703', '42601', '42501', '3D000', '0A000', 'XX000', '25P02', '54000']) {
    t.equal(classifyPostgresError({ code }), 'fatal', code);
  }
  t.equal(classifyPostgresError(new Error('Connection terminated')), 'fatal', 'ended on purpose, by us');
  t.equal(classifyPostgresError(new Error('anything else')), 'fatal');
  t.equal(classifyPostgresError({ code: 'ERR_SOMETHING' }), 'fatal');
  t.equal(classifyPostgresError(undefined), 'fatal');
  t.equal(classifyPostgresError(null), 'fatal');
});

t.test('the description carries code, message, detail and column', async (t) => {
  t.equal(
    describePostgresError({ code: '23505', message: 'duplicate key value violates unique constraint "t_pkey"', detail: 'Key (id)=(1) already exists.' }),
    '23505 duplicate key value violates unique constraint "t_pkey": Key (id)=(1) already exists.',
  );
  t.equal(
    describePostgresError({ code: '23502', message: 'null value in column "v" of relation "t" violates not-null constraint', column: 'v' }),
    '23502 null value in column "v" of relation "t" violates not-null constraint (column v)',
  );
  t.equal(describePostgresError(new Error('Connection terminated unexpectedly')), 'Connection terminated unexpectedly');
  t.equal(describePostgresError('plain'), 'plain');
});

t.test('errors of a real server are classified by their SQLSTATE', async (t) => {
  const db = knex({ client: 'pg', connection: { ...pg }, pool: { min: 0, max: 1 } });
  t.teardown(() => db.destroy());
  // A temporary table lives in one session: one transaction keeps both statements on it.
  const tooLong = await db
    .transaction(async (trx) => {
      await trx.raw('CREATE TEMP TABLE x (v varchar(2))');
      await trx.raw("INSERT INTO x VALUES ('abcd')");
    })
    .then(
      () => undefined,
      (err: unknown) => err,
    );
  t.match(tooLong, { code: '22001' });
  t.equal(classifyPostgresError(tooLong), 'record');
  t.match(describePostgresError(tooLong), /^22001 .*value too long for type character varying\(2\)/);

  const missing = await db.raw('SELECT * FROM docpipe_no_such_table').then(
    () => undefined,
    (err: unknown) => err,
  );
  t.match(missing, { code: '42P01' });
  t.equal(classifyPostgresError(missing), 'fatal');
});

t.test('docpipe’s pool names itself and leaves statements without a time limit, in a fresh database', async (t) => {
  const { name, connection } = await freshPostgresDatabase(t);
  const db = createPostgresKnex({ client: 'postgresql', ...connection }, 2);
  t.teardown(() => db.destroy());
  const { rows } = await db.raw<{ rows: { db: string; app: string; timeout: string }[] }>(
    "SELECT current_database() AS db, current_setting('application_name') AS app, current_setting('statement_timeout') AS timeout",
  );
  t.same(rows, [{ db: name, app: 'docpipe', timeout: '0' }]);
});
