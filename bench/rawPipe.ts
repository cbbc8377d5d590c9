/**
 * Diagnostic: the least a Kafka-to-MySQL pipeline can do on this machine. The raw source's
 * consume loop feeding the raw sink's inserts, with only what no such pipeline can skip in
 * between — `JSON.parse` to find the columns — and nothing a correct one needs: no checks,
 * no upsert, no offsets committed, no dead letters. It shares the two cores with the broker
 * and the database the way docpipe does, which neither ceiling does on its own, so docpipe's
 * rate divided by this one is the part of the gap to the raw-sink ceiling that is docpipe's.
 *
 * It inserts the way the raw sink it is given does (text or prepared), always with statements
 * of 2 MiB, 3 in flight: among the best of that sink's sweep here, and fixed, so that its rate
 * does not move with whichever setting a noisy sweep happened to pick in a run.
 */
import type { Contender, RunInput } from './contender.js';
import { Progress, type Throughput } from './progress.js';
import { openWriter, type RawSink } from './rawSink.js';
import { rowsPerStatement, type BenchRow } from './documents.js';
import { rowOf } from './peerWrites.js';
import { subscribedConsumer, UNTHROTTLED } from './subscribedConsumer.js';

const SETTING = { statementBytes: 2 * 1024 * 1024, inFlight: 3 };

export class RawPipe implements Contender {
  readonly id = 'rawPipe';
  readonly title = 'diagnostic: raw consume → JSON.parse → raw INSERT';
  readonly writes = true;

  constructor(private readonly sink: RawSink) {}

  get configuration(): string {
    return `the raw source's consume(1000) loop, JSON.parse, plain INSERT like the ${this.sink.title.replace(/^\w+: /, '')}, ~2 MiB a statement, 3 in flight, no checks, no upsert, no commits`;
  }

  async run({ ctx, topic, table, total, docBytes }: RunInput): Promise<Throughput> {
    const perStatement = rowsPerStatement(SETTING.statementBytes, docBytes);
    const inFlight = SETTING.inFlight;
    const writers = await Promise.all(Array.from({ length: inFlight }, () => openWriter(ctx.knex, this.sink.protocol, table)));
    const consumer = await subscribedConsumer(ctx.brokers, 'bench_rawpipe', topic, UNTHROTTLED);

    const progress = new Progress();
    const idle = [...writers];
    const rows: BenchRow[] = [];
    let consumed = 0;
    let pulling = false;
    let stopped = false;
    let failure: unknown;

    // Statements go out while a writer is free; when none is, reading waits for one.
    const ship = () => {
      while (idle.length > 0 && (rows.length >= perStatement || (consumed >= total && rows.length > 0))) {
        const chunk = rows.splice(0, perStatement);
        const w = idle.pop()!;
        w.insert(chunk).then(
          () => {
            progress.add(chunk.length);
            idle.push(w);
            ship();
            pull();
          },
          (err: unknown) => {
            failure = err;
            stopped = true;
          },
        );
      }
    };
    const pull = () => {
      if (stopped || pulling || consumed >= total || rows.length >= perStatement) return;
      pulling = true;
      consumer.consume(1000, (err, messages) => {
        pulling = false;
        if (!err) {
          for (const m of messages) rows.push(rowOf(m.value!, m.partition, m.offset));
          consumed += messages.length;
        }
        ship();
        setImmediate(pull);
      });
    };
    pull();
    try {
      await progress.reached(total, this.title).catch((err: unknown) => Promise.reject(failure ?? err));
    } finally {
      stopped = true;
      await new Promise<void>((resolve) => consumer.disconnect(() => resolve()));
      await Promise.all(writers.map((w) => w.release()));
    }
    return progress.result();
  }
}
