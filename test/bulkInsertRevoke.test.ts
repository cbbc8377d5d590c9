// Revoke means revoke: a batch whose partitions were all revoked while it retried gives up,
// releases its budget, and moves no commit; one that still holds an owned partition goes on.
import t from 'tap';
import { getEventListeners } from 'node:events';
import { from, lastValueFrom, toArray } from 'rxjs';
import { OffsetTracker, PartitionReleasedError } from '../pipeline/core/offsetTracker.js';
import type { Envelope } from '../pipeline/core/envelope.js';
import type { RecordSink, SinkResult } from '../pipeline/core/recordSink.js';
import { bulkInsert } from '../operators/bulkInsert.js';

/** A sink whose database never comes back: it retries until its signal aborts, as SqlSink's retry does. */
class UnreachableSink implements RecordSink<string> {
  attempts = 0;
  write(_records: readonly Envelope<string>[], options: { signal?: AbortSignal } = {}): Promise<SinkResult<string>> {
    return new Promise((_resolve, reject) => {
      const { signal } = options;
      if (!signal) return;
      this.attempts++;
      if (signal.aborted) reject(signal.reason);
      else signal.addEventListener('abort', () => reject(signal.reason), { once: true });
    });
  }
}

const envelopes = (tracker: OffsetTracker, topic: string, partition: number, offsets: number[]): Envelope<string>[] =>
  offsets.map((offset) => ({
    payload: `${topic}-${partition}-${offset}`,
    value: null,
    key: null,
    topic,
    partition,
    offset,
    headers: [],
    timestamp: 0,
    size: 10,
    done: tracker.handOut(topic, partition, offset, 10),
    released: tracker.releaseSignal(topic, partition)!,
  }));

t.test('a revoke aborts the partition’s signal with the reason', async (t) => {
  const tracker = new OffsetTracker();
  tracker.assign([{ topic: 'a', partition: 0 }]);
  const signal = tracker.releaseSignal('a', 0)!;
  t.notOk(signal.aborted);
  tracker.revoke([{ topic: 'a', partition: 0 }]);
  t.ok(signal.aborted);
  t.type(signal.reason, PartitionReleasedError);
  t.equal(tracker.releaseSignal('a', 0), undefined, 'no signal for a partition not assigned');
});

t.test('a batch of revoked partitions stops retrying and frees its budget without a commit', async (t) => {
  let released = 0;
  const tracker = new OffsetTracker({ released: (bytes) => (released += bytes) });
  tracker.assign([
    { topic: 'a', partition: 0 },
    { topic: 'a', partition: 1 },
  ]);
  const records = [...envelopes(tracker, 'a', 0, [0, 1, 2]), ...envelopes(tracker, 'a', 1, [0, 1])];
  const sink = new UnreachableSink();
  const written = lastValueFrom(from([{ records, bytes: 50 }]).pipe(bulkInsert(sink, { deadLetter: () => t.fail('nothing is dead-lettered') }), toArray()));
  tracker.revoke([{ topic: 'a', partition: 0 }]);
  // One of the batch's partitions is still owned: the write goes on.
  await new Promise((r) => setImmediate(r));
  t.equal(released, 0, 'still writing for a[1]');
  tracker.revoke([{ topic: 'a', partition: 1 }]);
  const [result] = await written;
  t.match(result, { records: 5, written: 0, rejected: 0, stale: 0, revoked: 5 });
  t.equal(released, 50, 'every record’s budget released');
  t.equal(tracker.inFlight(), 0);
  tracker.assign([{ topic: 'a', partition: 0 }]);
  t.same(tracker.committable(), [], 'no commit moved for the partitions let go');
});

t.test('a batch written leaves no listener on its partitions’ signals', async (t) => {
  const tracker = new OffsetTracker();
  tracker.assign([
    { topic: 'a', partition: 0 },
    { topic: 'a', partition: 1 },
  ]);
  const sink: RecordSink<string> = { write: () => Promise.resolve({ written: 2, rejected: [] }) };
  for (let i = 0; i < 20; i++) {
    const records = [...envelopes(tracker, 'a', 0, [i]), ...envelopes(tracker, 'a', 1, [i])];
    await lastValueFrom(from([{ records, bytes: 20 }]).pipe(bulkInsert(sink, { deadLetter: () => {} })));
  }
  t.equal(getEventListeners(tracker.releaseSignal('a', 0)!, 'abort').length, 0);
  t.equal(getEventListeners(tracker.releaseSignal('a', 1)!, 'abort').length, 0);
});
