import t from 'tap';
import { OffsetTracker } from '../pipeline/core/offsetTracker.js';

const tp = { topic: 't', partition: 0 };

const setup = () => {
  let released = 0;
  const tracker = new OffsetTracker({ released: (b) => (released += b) });
  tracker.assign([tp, { topic: 't', partition: 1 }]);
  return { tracker, released: () => released };
};

t.test('in-order acks commit offset + 1 of the last done record', async (t) => {
  const { tracker } = setup();
  const a = tracker.handOut('t', 0, 0, 10);
  const b = tracker.handOut('t', 0, 1, 10);
  t.same(tracker.committable(), [], 'nothing done, nothing to commit');
  a();
  t.same(tracker.committable(), [{ topic: 't', partition: 0, offset: 1 }]);
  b();
  t.same(tracker.committable(), [{ topic: 't', partition: 0, offset: 2 }]);
});

t.test('out-of-order acks wait for the contiguous prefix', async (t) => {
  const { tracker } = setup();
  const done = [10, 11, 12, 13].map((o) => tracker.handOut('t', 0, o, 1));
  done[3]!();
  done[1]!();
  t.same(tracker.committable(), [], 'offset 10 still pending holds everything');
  done[0]!();
  t.same(tracker.committable(), [{ topic: 't', partition: 0, offset: 12 }], '10 and 11 done: commit 12');
  done[2]!();
  t.same(tracker.committable(), [{ topic: 't', partition: 0, offset: 14 }]);
});

t.test('gaps in the offsets (compaction, transaction markers) do not block commits', async (t) => {
  const { tracker } = setup();
  const a = tracker.handOut('t', 0, 5, 1);
  const b = tracker.handOut('t', 0, 9, 1);
  b();
  a();
  t.same(tracker.committable(), [{ topic: 't', partition: 0, offset: 10 }]);
});

t.test('a dead-lettered record holds the position until its copy is acknowledged', async (t) => {
  const { tracker } = setup();
  const written = tracker.handOut('t', 0, 0, 1);
  const poison = tracker.handOut('t', 0, 1, 1);
  const after = tracker.handOut('t', 0, 2, 1);
  written();
  after();
  t.same(tracker.committable(), [{ topic: 't', partition: 0, offset: 1 }], 'stops before the poison record');
  poison(); // the dead-letter topic acknowledged it
  t.same(tracker.committable(), [{ topic: 't', partition: 0, offset: 3 }]);
});

t.test('done is idempotent and releases the budget once', async (t) => {
  const { tracker, released } = setup();
  const a = tracker.handOut('t', 0, 0, 100);
  const b = tracker.handOut('t', 0, 1, 50);
  a();
  a();
  t.equal(released(), 100);
  t.equal(tracker.inFlight(), 1);
  b();
  t.equal(released(), 150);
  t.equal(tracker.inFlight(), 0);
});

t.test('committed positions are not offered again', async (t) => {
  const { tracker } = setup();
  tracker.handOut('t', 0, 0, 1)();
  const first = tracker.committable();
  tracker.markCommitted(first);
  t.same(tracker.committable(), []);
  tracker.handOut('t', 0, 1, 1)();
  t.same(tracker.committable(), [{ topic: 't', partition: 0, offset: 2 }]);
});

t.test('a position sent waits for the broker: offered again only if refused, or once it moves on', async (t) => {
  const { tracker } = setup();
  tracker.handOut('t', 0, 0, 1)();
  const first = tracker.committable();
  tracker.markSent(first);
  t.same(tracker.committable(), [], 'not sent twice while the broker has not answered');
  tracker.markRefused(first);
  t.same(tracker.committable(), first, 'refused (say, the group was rebalancing): offered again with nothing new done');
  tracker.markSent(first);
  tracker.handOut('t', 0, 1, 1)();
  const second = tracker.committable();
  t.same(second, [{ topic: 't', partition: 0, offset: 2 }], 'a later position goes without waiting for the earlier answer');
  tracker.markSent(second);
  tracker.markCommitted(first);
  tracker.markRefused(first);
  t.same(tracker.committable(), [], 'a late refusal of an earlier position does not resend the later one in flight');
  tracker.markRefused(second);
  t.same(tracker.committable(), second, 'the later one refused: offered again');
  tracker.markCommitted(second);
  t.same(tracker.committable(), [], 'accepted: done with');
});

t.test('partitions are independent and can be filtered', async (t) => {
  const { tracker } = setup();
  tracker.handOut('t', 0, 0, 1)();
  tracker.handOut('t', 1, 7, 1)();
  t.same(tracker.committable([{ topic: 't', partition: 1 }]), [{ topic: 't', partition: 1, offset: 8 }]);
  t.equal(tracker.committable().length, 2);
});

t.test('revoke with work in flight: late acks release budget but never commit', async (t) => {
  const { tracker, released } = setup();
  const a = tracker.handOut('t', 0, 0, 10);
  const b = tracker.handOut('t', 0, 1, 10);
  a();
  t.equal(tracker.inFlight([tp]), 1);
  tracker.revoke([tp]);
  t.notOk(tracker.owns('t', 0));
  t.same(tracker.committable(), [], 'nothing is committed for a partition no longer owned');
  b();
  t.equal(released(), 20, 'the late ack still frees its budget');
  t.equal(tracker.inFlight(), 0);
  t.same(tracker.committable(), []);
});

t.test('reassignment after revoke starts fresh; old acks do not touch the new state', async (t) => {
  const { tracker } = setup();
  const old = tracker.handOut('t', 0, 0, 1);
  tracker.revoke([tp]);
  tracker.assign([tp]);
  // The new assignment re-reads from the committed offset, 0 again.
  const again = tracker.handOut('t', 0, 0, 1);
  const next = tracker.handOut('t', 0, 1, 1);
  old();
  t.same(tracker.committable(), [], "the old assignment's ack does not count for the new one");
  again();
  next();
  t.same(tracker.committable(), [{ topic: 't', partition: 0, offset: 2 }]);
});

t.test('handing out for an unassigned partition or out of order is a bug', async (t) => {
  const { tracker } = setup();
  t.throws(() => tracker.handOut('other', 0, 0, 1), /not assigned/);
  tracker.handOut('t', 0, 5, 1);
  t.throws(() => tracker.handOut('t', 0, 5, 1), /handed out after 5/);
  // the same partition number of another topic, right after t[0] was looked up
  t.throws(() => tracker.handOut('other', 0, 6, 1), /not assigned/);
  t.notOk(tracker.owns('other', 0));
});

t.test('a long run of acks keeps memory compact and positions right', async (t) => {
  const { tracker } = setup();
  const acks: (() => void)[] = [];
  for (let o = 0; o < 10_000; o++) acks.push(tracker.handOut('t', 0, o, 1));
  // Ack in reverse: the position must only move at the very end.
  for (let i = acks.length - 1; i > 0; i--) acks[i]!();
  t.same(tracker.committable(), []);
  acks[0]!();
  t.same(tracker.committable(), [{ topic: 't', partition: 0, offset: 10_000 }]);
  t.equal(tracker.inFlight(), 0);
});

t.test('a record that never finishes: its partition is held at the limit, named as stuck, and let go when it is done', async (t) => {
  const events: string[] = [];
  const tracker = new OffsetTracker(
    {
      released: () => {},
      limitReached: (s) => events.push(`held ${s.topic}[${s.partition}]@${s.offset} (${s.outstanding})`),
      limitCleared: (tp) => events.push(`cleared ${tp.topic}[${tp.partition}]`),
    },
    { maxOutstanding: 5 },
  );
  tracker.assign([
    { topic: 't', partition: 0 },
    { topic: 't', partition: 1 },
  ]);
  const stuck = tracker.handOut('t', 0, 0, 1);
  const later = [1, 2, 3, 4].map((o) => tracker.handOut('t', 0, o, 1));
  for (const done of later) done();
  const other = tracker.handOut('t', 1, 0, 1);
  t.same(events, ['held t[0]@0 (5)'], 'the fifth outstanding record holds the partition');
  t.match(tracker.stuck(), [{ topic: 't', partition: 0, offset: 0, outstanding: 5, held: true }], 'only the partition whose head holds back later records');
  t.same(tracker.stuck(3600), [], 'not stuck for an hour yet');
  other();
  t.same(tracker.committable(), [{ topic: 't', partition: 1, offset: 1 }]);
  stuck();
  t.same(events, ['held t[0]@0 (5)', 'cleared t[0]'], 'done, it lets the partition go');
  t.same(tracker.stuck(), []);
  t.same(
    tracker.committable().find((p) => p.partition === 0),
    { topic: 't', partition: 0, offset: 5 },
  );
});
