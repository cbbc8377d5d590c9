import t from 'tap';
import { from, lastValueFrom, toArray } from 'rxjs';
import { decodeJson } from '../operators/decodeJson.js';
import { parseJsonExact } from '../pipeline/core/exactJson.js';
import type { Envelope } from '../pipeline/core/envelope.js';
import type { Rejection } from '../pipeline/core/rejections.js';
import { envelopeOf } from './helpers/envelopes.js';

const envelope = (value: string | Buffer | null, offset = 0): Envelope<Buffer | null> => {
  const buf = value === null ? null : Buffer.isBuffer(value) ? value : Buffer.from(value);
  return envelopeOf(buf, offset, { value: buf, size: buf?.length ?? 0 });
};

const run = async (values: (string | Buffer | null)[]) => {
  const rejected: { offset: number; rejection: Rejection }[] = [];
  const out = await lastValueFrom(
    from(values.map((v, i) => envelope(v, i))).pipe(decodeJson({ deadLetter: (r, rejection) => rejected.push({ offset: r.offset, rejection }) }), toArray()),
  );
  return { out, rejected };
};

t.test('doc_id is exact over the whole signed 64-bit range', async (t) => {
  for (const id of ['0', '1', '-1', '9007199254740993', '9223372036854775807', '-9223372036854775808', '12345678901234567890']) {
    t.equal(parseJsonExact(`{"doc_id": ${id}, "title": "x"}`, ['doc_id'])['doc_id'], BigInt(id), id);
  }
});

t.test('non-integer literals stay numbers, so the schema can refuse them', async (t) => {
  t.equal(parseJsonExact('{"doc_id": 1.5}', ['doc_id'])['doc_id'], 1.5);
  t.equal(parseJsonExact('{"doc_id": 1.0}', ['doc_id'])['doc_id'], 1);
  t.equal(parseJsonExact('{"doc_id": 1e3}', ['doc_id'])['doc_id'], 1000);
  t.equal(parseJsonExact('{"doc_id": "123"}', ['doc_id'])['doc_id'], '123');
});

t.test('ambiguous texts take the exact slow path and still get it right', async (t) => {
  // nested doc_id before the top-level one
  const nested = parseJsonExact('{"meta": {"doc_id": 1}, "doc_id": 9223372036854775807}', ['doc_id']);
  t.equal(nested['doc_id'], 9223372036854775807n);
  t.same(nested['meta'], { doc_id: 1 }, 'nested integers stay plain numbers');
  // duplicate keys with different values: refused rather than guessed
  t.throws(() => parseJsonExact('{"doc_id": 1, "doc_id": 9007199254740993}', ['doc_id']), /Duplicate key 'doc_id'/);
  // every kind of JSON whitespace around the colon
  t.equal(parseJsonExact('{ "doc_id"\t :\r\n 9007199254740993 }', ['doc_id'])['doc_id'], 9007199254740993n);
  // the key spelled with escapes
  t.equal(parseJsonExact('{"doc\\u005fid": 9007199254740993}', ['doc_id'])['doc_id'], 9007199254740993n);
  // the name inside a string value
  const inString = parseJsonExact('{"title": "\\"doc_id\\": 5", "doc_id": 9007199254740995}', ['doc_id']);
  t.equal(inString['doc_id'], 9007199254740995n);
  t.equal(inString['title'], '"doc_id": 5');
});

t.test('bad values are dead-lettered with a reason; good ones pass', async (t) => {
  const { out, rejected } = await run([
    '{"doc_id": 1, "title": "ok"}',
    '{not json',
    '[1, 2]',
    '"a string"',
    '42',
    'null',
    null,
    '',
    Buffer.from([0x7b, 0xff, 0xfe, 0x7d]),
    '\ufeff{"doc_id": 2}',
  ]);
  t.same(
    out.map((e) => e.offset),
    [0, 9],
    'only the good records pass (a UTF-8 BOM is allowed)',
  );
  t.same(
    rejected.map((r) => [r.offset, r.rejection.stage, r.rejection.errorClass]),
    [
      [1, 'decode', 'SyntaxError'],
      [2, 'decode', 'NotAnObject'],
      [3, 'decode', 'NotAnObject'],
      [4, 'decode', 'NotAnObject'],
      [5, 'decode', 'NotAnObject'],
      [6, 'decode', 'EmptyValue'],
      [7, 'decode', 'EmptyValue'],
      [8, 'decode', 'EncodingError'],
    ],
  );
  t.match(rejected[1]!.rejection.message, /an array, not an object/);
  t.match(rejected[5]!.rejection.message, /tombstone/);
});

t.test('bad UTF-8 inside well-formed JSON is refused, a real U+FFFD is not', async (t) => {
  const json = (inner: number[]) => Buffer.concat([Buffer.from('{"doc_id": 3, "title": "a'), Buffer.from(inner), Buffer.from('b"}')]);
  const { out, rejected } = await run([
    json([0xef, 0xbf, 0xbd]), // U+FFFD itself, well encoded
    json([0xc3, 0x28]), // a lead byte without its continuation
    json([0xed, 0xa0, 0x80]), // a UTF-16 surrogate, which UTF-8 may not encode
    json([0xc0, 0xaf]), // an overlong '/'
    json([0xe4, 0xb8]), // a truncated 3-byte character
  ]);
  t.same(
    out.map((e) => e.offset),
    [0],
  );
  t.equal((out[0]!.payload as { title: string }).title, 'a\ufffdb');
  t.same(
    rejected.map((r) => [r.offset, r.rejection.errorClass]),
    [1, 2, 3, 4].map((o) => [o, 'EncodingError']),
  );
});

t.test('unicode, 4-byte characters and metacharacters decode verbatim', async (t) => {
  const doc = { doc_id: 7, title: '中文标题 🦀', body: '`; DROP TABLE x; -- \' " \\ \u0000' };
  const { out } = await run([JSON.stringify(doc)]);
  t.same(out[0]!.payload, { ...doc, doc_id: 7n });
});
