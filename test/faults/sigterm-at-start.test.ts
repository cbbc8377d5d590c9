// Fault: a stop request in the first half second of a start — a deployment rolled back, a
// container stopped as soon as it came up. At 0.02 to 0.5 s after the process starts (the first
// moments fall in Node's own bootstrap, which the docpipe command bridges), SIGTERM ends it with
// 0 (nothing had been read: nothing to drain); a member started afterwards writes everything.
import t from 'tap';
import { documents, range, scenario, startMember, verifyDelivery, waitForAllStored } from '../helpers/faults.js';

t.test('SIGTERM at 0.02 to 0.5 s after start exits 0; nothing is lost', async (t) => {
  const s = await scenario(t, 'sigterm_at_start', { partitions: 3 });
  await s.ledger.send(s, documents(range(0, 5000), 1));
  for (const afterMs of [20, 50, 100, 300, 500]) {
    const member = startMember(s);
    // The signal's moment is what this test is about, not a wait for something to happen.
    await new Promise((r) => setTimeout(r, Math.max(0, afterMs - (Date.now() - member.started))));
    const sentAt = Date.now() - member.started;
    member.kill('SIGTERM');
    const code = await member.exited;
    t.equal(code, 0, `SIGTERM ${sentAt} ms after start: exit 0\n${member.output()}`);
  }
  const last = startMember(s);
  await waitForAllStored(s, 120_000, [last]);
  await verifyDelivery(t, s);
  const { code } = await last.terminate();
  t.equal(code, 0);
});
