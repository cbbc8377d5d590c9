// A user operator that drops records with plain `filter` is named; one that uses filterRecords is not.
import t from 'tap';
import { filter, lastValueFrom, Subject, toArray } from 'rxjs';
import pino from 'pino';
import { Writable } from 'node:stream';
import { watchForDrops } from '../pipeline/dropWatch.js';
import { filterRecords } from '../operators/filterRecords.js';
import type { Envelope } from '../pipeline/core/envelope.js';
import { envelopeOf } from './helpers/envelopes.js';

const capture = () => {
  const lines: string[] = [];
  const log = pino(
    { level: 'warn' },
    new Writable({
      write(chunk: Buffer, _e, cb) {
        lines.push(chunk.toString());
        cb();
      },
    }),
  );
  return { log, lines };
};

const until = async (check: () => boolean, ms: number) => {
  const end = Date.now() + ms;
  while (!check() && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
};

t.test('a record dropped by plain filter is named once a later one has passed', async (t) => {
  const { log, lines } = capture();
  const input = new Subject<Envelope<number>>();
  const done: number[] = [];
  const out = lastValueFrom(
    input.pipe(
      watchForDrops(
        filter((e: Envelope<number>) => e.payload !== 2),
        log,
        50,
      ),
      toArray(),
    ),
  );
  for (const n of [1, 2, 3]) input.next(envelopeOf(n, n, { done: () => done.push(n) }));
  await until(() => lines.length > 0, 2_000);
  input.complete();
  const passed = await out;
  t.same(
    passed.map((e) => e.payload),
    [1, 3],
  );
  t.equal(lines.length, 1, 'named once');
  t.match(lines[0], /your operator dropped t\[0\]@2 without marking it done/);
  passed.forEach((e) => e.done());
  t.same(done, [1, 3], 'done still reaches the source');
});

t.test('filterRecords marks what it drops as done: nothing is reported', async (t) => {
  const { log, lines } = capture();
  const input = new Subject<Envelope<number>>();
  const done: number[] = [];
  const out = lastValueFrom(
    input.pipe(
      watchForDrops(
        filterRecords((n: number) => n !== 2),
        log,
        50,
      ),
      toArray(),
    ),
  );
  for (const n of [1, 2, 3]) input.next(envelopeOf(n, n, { done: () => done.push(n) }));
  await new Promise((r) => setTimeout(r, 300));
  input.complete();
  await out;
  t.same(lines, []);
  t.same(done, [2], 'the filtered record is done');
});
