import t from 'tap';
import { from, lastValueFrom, toArray, type OperatorFunction } from 'rxjs';
import { z } from 'zod';
import { validate, documentSchema } from '../operators/validate.js';
import type { Envelope } from '../pipeline/core/envelope.js';
import type { Rejection } from '../pipeline/core/rejections.js';
import { envelopeOf } from './helpers/envelopes.js';

const envelope = (payload: unknown, offset: number): Envelope<unknown> => envelopeOf(payload, offset);

const run = async <T>(payloads: unknown[], schema?: z.ZodType<T>) => {
  const rejected: { offset: number; rejection: Rejection }[] = [];
  const deadLetter = (r: Envelope<unknown>, rejection: Rejection) => rejected.push({ offset: r.offset, rejection });
  const op: OperatorFunction<Envelope<unknown>, Envelope<unknown>> = schema ? validate({ deadLetter, schema }) : validate({ deadLetter });
  const out = await lastValueFrom(from(payloads.map(envelope)).pipe(op, toArray()));
  return { out, rejected };
};

t.test('the document schema accepts the upstream shape and strips unknown fields', async (t) => {
  const { out, rejected } = await run([
    { doc_id: 1n, title: 'a', body: 'b' },
    { doc_id: -9223372036854775808n, title: '', body: '', url: 'https://x', extra: 'dropped', score: 3 },
    { doc_id: 2n, title: 'a', body: 'b', url: null },
    { doc_id: 3n, title: 'a', body: 'b', url: '🦀'.repeat(256) },
  ]);
  t.same(rejected, []);
  t.same(out[1]!.payload, { doc_id: -9223372036854775808n, title: '', body: '', url: 'https://x' }, 'unknown fields never reach SQL');
});

t.test('every schema violation is dead-lettered with its field and reason', async (t) => {
  const { out, rejected } = await run([
    { title: 'no id', body: 'b' },
    { doc_id: '123', title: 'a', body: 'b' },
    { doc_id: 1.5, title: 'a', body: 'b' },
    { doc_id: 9223372036854775808n, title: 'a', body: 'b' },
    { doc_id: 1n, title: 5, body: 'b' },
    { doc_id: 1n, title: 'a' },
    { doc_id: 1n, title: 'a', body: 'b', url: 'x'.repeat(257) },
  ]);
  t.equal(out.length, 0);
  const messages = rejected.map((r) => r.rejection.message);
  t.match(messages[0], /doc_id: .*expected bigint/i);
  t.match(messages[1], /doc_id: .*expected bigint, received string/i);
  t.match(messages[2], /doc_id: .*expected bigint, received number/i);
  t.match(messages[3], /doc_id: .*(too big|<=)/i);
  t.match(messages[4], /title: .*expected string/i);
  t.match(messages[5], /body: .*expected string/i);
  t.match(messages[6], /url: must be at most 256 characters/);
  t.ok(rejected.every((r) => r.rejection.stage === 'validate' && r.rejection.errorClass === 'SchemaError'));
});

t.test('a user schema gives a user type', async (t) => {
  const schema = documentSchema.extend({ score: z.number().min(0) });
  const { out, rejected } = await run(
    [
      { doc_id: 1n, title: 'a', body: 'b', score: 0.5 },
      { doc_id: 2n, title: 'a', body: 'b', score: -1 },
    ],
    schema,
  );
  t.equal((out[0]!.payload as z.infer<typeof schema>).score, 0.5);
  t.equal(rejected.length, 1);
  t.match(rejected[0]!.rejection.message, /score/);
});
