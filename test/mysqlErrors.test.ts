import t from 'tap';
import { classifyMysqlError } from '../sinks/mysqlErrors.js';
import { retry, RetriesExceededError, backoffDelay } from '../pipeline/core/retry.js';

t.test('errors are sorted into transient, record and fatal', async (t) => {
  t.equal(classifyMysqlError({ errno: 1213, code: 'ER_LOCK_DEADLOCK' }), 'transient');
  t.equal(classifyMysqlError({ errno: 1205 }), 'transient');
  t.equal(classifyMysqlError({ code: 'ECONNREFUSED' }), 'transient');
  t.equal(classifyMysqlError({ code: 'PROTOCOL_CONNECTION_LOST' }), 'transient');
  t.equal(classifyMysqlError({ errno: 1053 }), 'transient');
  t.equal(classifyMysqlError({ name: 'KnexTimeoutError' }), 'transient');
  t.equal(classifyMysqlError({ errno: 1366 }), 'record');
  t.equal(classifyMysqlError({ errno: 1406 }), 'record');
  t.equal(classifyMysqlError({ errno: 1264 }), 'record');
  t.equal(classifyMysqlError({ errno: 1045, code: 'ER_ACCESS_DENIED_ERROR' }), 'fatal');
  t.equal(classifyMysqlError({ errno: 1146 }), 'fatal');
  t.equal(classifyMysqlError(new Error('anything else')), 'fatal');
});

t.test('retry backs off with jitter, stops on non-transient errors and when retries run out', async (t) => {
  t.equal(
    backoffDelay(1, 100, 1000, () => 1),
    100,
  );
  t.equal(
    backoffDelay(4, 100, 1000, () => 1),
    800,
  );
  t.equal(
    backoffDelay(10, 100, 1000, () => 1),
    1000,
    'capped',
  );
  t.equal(
    backoffDelay(3, 100, 1000, () => 0.5),
    200,
    'jittered',
  );

  let calls = 0;
  const value = await retry(async () => (++calls < 3 ? Promise.reject(new Error('flaky')) : 'ok'), {
    isTransient: () => true,
    initialDelayMs: 1,
  });
  t.equal(value, 'ok');
  t.equal(calls, 3);

  await t.rejects(
    retry(() => Promise.reject(new Error('bad')), { isTransient: () => false }),
    { message: 'bad' },
  );
  await t.rejects(
    retry(() => Promise.reject(new Error('down')), { isTransient: () => true, initialDelayMs: 1, maxRetries: 2 }),
    RetriesExceededError,
  );
});
