import t from 'tap';
import { Subject } from 'rxjs';
import { batch } from '../operators/batch.js';
import type { Batch, Envelope } from '../pipeline/core/envelope.js';
import { envelopeOf } from './helpers/envelopes.js';

const rec = (offset: number, size = 10): Envelope<number> => envelopeOf(offset, offset, { size });

const collect = (options: Parameters<typeof batch>[0]) => {
  const input = new Subject<Envelope<number>>();
  const out: Batch<number>[] = [];
  let completed = false;
  input.pipe(batch<number>(options)).subscribe({ next: (b) => out.push(b), complete: () => (completed = true) });
  return { input, out, completed: () => completed };
};

t.test('flushes at maxRecords', async (t) => {
  const { input, out } = collect({ maxRecords: 3, maxDelayMs: 60_000 });
  for (let i = 0; i < 7; i++) input.next(rec(i));
  t.same(
    out.map((b) => b.records.map((r) => r.offset)),
    [
      [0, 1, 2],
      [3, 4, 5],
    ],
  );
  input.complete();
  t.same(
    out[2]!.records.map((r) => r.offset),
    [6],
    'completion flushes the rest',
  );
});

t.test('flushes at maxBytes', async (t) => {
  const { input, out } = collect({ maxRecords: 100, maxBytes: 25, maxDelayMs: 60_000 });
  input.next(rec(0, 10));
  input.next(rec(1, 10));
  t.equal(out.length, 0);
  input.next(rec(2, 10));
  t.equal(out.length, 1);
  t.equal(out[0]!.bytes, 30);
});

t.test('flushes after maxDelayMs from the first record of a batch', async (t) => {
  const { input, out } = collect({ maxRecords: 100, maxDelayMs: 20 });
  input.next(rec(0));
  input.next(rec(1));
  const flushed = await new Promise<Batch<number>[]>((resolve) => {
    const poll = setInterval(() => {
      if (out.length > 0) {
        clearInterval(poll);
        resolve(out);
      }
    }, 5);
  });
  t.same(
    flushed[0]!.records.map((r) => r.offset),
    [0, 1],
  );
  input.complete();
});

t.test('errors pass through and clear the timer', async (t) => {
  const input = new Subject<Envelope<number>>();
  let error: unknown;
  input.pipe(batch<number>({ maxDelayMs: 10 })).subscribe({ error: (e: unknown) => (error = e) });
  input.next(rec(0));
  input.error(new Error('boom'));
  t.match(error, { message: 'boom' });
});
