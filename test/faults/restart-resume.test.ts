// Fault: SIGKILL, then an immediate restart, as a crash loop or a rescheduled pod does. How long
// until the restarted member writes its first new row, for the group settings that ship: the
// default (classic protocol, a new member: it waits for the dead one's session to time out),
// static membership (`kafka.instanceId`: the restarted member is the same member and takes its
// partitions back at once) and the consumer protocol of KIP-848. Members run with the session
// timeouts that ship. The times go to the fault table; static membership must beat the default.
import t from 'tap';
import { assertAlive, documents, range, rowCount, scenario, startMember, uniqueName, verifyDelivery, waitFor, waitForAllStored } from '../helpers/faults.js';

const DOCS = 60_000;

const variants = [
  { name: 'default', env: {} },
  { name: 'static membership', env: { DOCPIPE_INSTANCE_ID: 'member-0' } },
  { name: 'consumer protocol', env: { DOCPIPE_GROUP_PROTOCOL: 'consumer' } },
] as const;

const resumeMs: Record<string, number> = {};

for (const variant of variants) {
  t.test(`SIGKILL and restart, ${variant.name}: first new row, nothing lost`, async (t) => {
    const s = await scenario(t, `restart_${variant.name.replace(/ /g, '_')}`, { partitions: 3 });
    await s.ledger.send(s, documents(range(0, DOCS), 1));
    const env = { ...variant.env, ...('DOCPIPE_INSTANCE_ID' in variant.env && { DOCPIPE_INSTANCE_ID: uniqueName('member') }) };
    const first = startMember(s, { env, shippedSession: true });
    await waitFor(
      async () => {
        assertAlive(first);
        return (await rowCount(s)) >= 5000;
      },
      'the first member to write',
      120_000,
    );
    first.kill('SIGKILL');
    await first.exited;
    const before = await rowCount(s);
    t.ok(before < DOCS, `killed mid-run (${before} of ${DOCS} rows)`);
    const second = startMember(s, { env, shippedSession: true });
    const restartedAt = Date.now();
    await waitFor(
      async () => {
        assertAlive(second);
        return (await rowCount(s)) > before;
      },
      'the restarted member to write a new row',
      120_000,
      50,
    );
    resumeMs[variant.name] = Date.now() - restartedAt;
    t.comment(`restart-to-first-new-row, ${variant.name}: ${(resumeMs[variant.name]! / 1000).toFixed(1)} s`);
    await waitForAllStored(s, 180_000, [second]);
    await verifyDelivery(t, s, { resumeSeconds: Math.round(resumeMs[variant.name]! / 100) / 10 });
    const { code } = await second.terminate();
    t.equal(code, 0, 'stops cleanly');
  });
}

t.test('static membership resumes sooner than a new member', async (t) => {
  const fast = resumeMs['static membership'];
  const slow = resumeMs.default;
  t.ok(fast !== undefined && slow !== undefined && fast < slow, `static ${fast} ms against default ${slow} ms`);
});
