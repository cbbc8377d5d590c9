import t from 'tap';
import { concatMap, from, lastValueFrom, Observable, of, take, toArray } from 'rxjs';
import { decodeDocumentsInWorker } from '../operators/decodeDocumentsInWorker.js';
import { decodeJson } from '../operators/decodeJson.js';
import { encodeDocuments, type EncodedDocument, type EncodedText } from '../operators/encodeDocuments.js';
import { validate } from '../operators/validate.js';
import type { Envelope } from '../pipeline/core/envelope.js';
import type { Rejection } from '../pipeline/core/rejections.js';
import { envelopeOf } from './helpers/envelopes.js';

const envelope = (value: string | Buffer | null, offset: number): Envelope<Buffer | null> => {
  const buf = value === null ? null : Buffer.isBuffer(value) ? value : Buffer.from(value);
  return envelopeOf(buf, offset, { value: buf, size: buf?.length ?? 0 });
};

const bytes = (text: EncodedText): Buffer => (Buffer.isBuffer(text) ? text : Buffer.from(text));

/** What a chain made of the records: each document's fields as bytes, and each rejection, by offset. */
const outcome = async (
  records: Envelope<Buffer | null>[],
  chain: (dl: (r: Envelope<unknown>, why: Rejection) => void) => (s: Observable<Envelope<Buffer | null>>) => Observable<Envelope<EncodedDocument>>,
) => {
  const rejected: [number, Rejection][] = [];
  const out = await lastValueFrom(
    from(records).pipe(
      chain((r, why) => rejected.push([r.offset, { stage: why.stage, errorClass: why.errorClass, message: why.message }])),
      toArray(),
    ),
  );
  return {
    // Read after every chunk came back, so text one chunk's buffer shares with another would show.
    documents: out.map((e) => ({
      offset: e.offset,
      doc_id: e.payload.doc_id,
      title: bytes(e.payload.title),
      body: bytes(e.payload.body),
      url: e.payload.url === null ? null : bytes(e.payload.url),
    })),
    rejected,
  };
};

const onMainThread = (deadLetter: (r: Envelope<unknown>, why: Rejection) => void) => (s: Observable<Envelope<Buffer | null>>) =>
  s.pipe(decodeJson({ deadLetter }), validate({ deadLetter }), encodeDocuments());

const values: (string | Buffer | null)[] = [
  '{"doc_id": 1, "title": "ok", "body": "plain"}',
  null,
  '',
  '{not json',
  '[1, 2]',
  '{"doc_id": 2, "body": "no title"}',
  `{"doc_id": 3, "title": "t", "body": "b", "url": "${'u'.repeat(257)}"}`,
  Buffer.from([0x7b, 0x22, 0xc3, 0x28, 0x22, 0x7d]),
  Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"doc_id": 4, "title": "bom", "body": ""}')]),
  '{"doc_id": 9223372036854775807, "title": "中文 text 混合", "body": "🦀\\n\\u4e2d\\ud800", "url": "https://例子.测试/x"}',
  '{"doc_id": -9223372036854775808, "title": "", "body": "", "url": null, "extra": [1, {"a": 2}]}',
  '{"doc_id": 9223372036854775808, "title": "out of range", "body": ""}',
  JSON.stringify({ doc_id: 5, title: '大'.repeat(70_000), body: 'y'.repeat(70_000), url: 'https://example.com/5' }),
  '{"doc_id": 6, "title": "dup", "title": "last wins", "body": "\\"quoted\\""}',
  // 1 MiB and more: decoded on the calling thread, in their turn.
  JSON.stringify({ doc_id: 9, title: 'large', body: '中'.repeat(400_000), url: null }),
  `{"doc_id": 10, "title": "large and broken", "body": "${'z'.repeat(1_100_000)}`,
];

t.test('accepts and refuses exactly what decodeJson, validate and encodeDocuments do, with the same bytes and reasons', async (t) => {
  // Every value several times over, so chunks of 5 split the kinds in different places.
  const records = Array.from({ length: values.length * 4 }, (_, i) => envelope(values[i % values.length]!, i));
  t.ok(
    records.some((r) => (r.value?.length ?? 0) >= 1024 * 1024),
    'some values are large enough to be decoded on the calling thread',
  );
  const expected = await outcome(records, onMainThread);
  const got = await outcome(records, (deadLetter) => decodeDocumentsInWorker({ deadLetter, chunkRecords: 5 }));
  t.ok(expected.documents.length > 0 && expected.rejected.length > 0, 'the values hold both kinds');
  t.same(got.rejected, expected.rejected, 'the same records refused, with the same rejections');
  t.equal(got.documents.length, expected.documents.length);
  const differing = got.documents.filter((d, i) => {
    const e = expected.documents[i]!;
    return (
      d.offset !== e.offset ||
      d.doc_id !== e.doc_id ||
      !d.title.equals(e.title) ||
      !d.body.equals(e.body) ||
      (d.url === null ? e.url !== null : e.url === null || !d.url.equals(e.url))
    );
  });
  t.same(
    differing.map((d) => d.offset),
    [],
    'every document comes out as the main-thread chain makes it, in order',
  );
});

t.test('records of many bursts and chunks come out in order, and the stream completes after the last', async (t) => {
  const doc = (i: number) => JSON.stringify({ doc_id: i, title: `t${i}`, body: 'b'.repeat(i % 300), url: i % 3 ? null : `https://example.com/${i}` });
  // Bursts of 100 a macrotask apart, as a source hands them over; chunks of at most 64.
  const bursts = Array.from({ length: 30 }, (_, b) => Array.from({ length: 100 }, (_, j) => envelope(doc(b * 100 + j), b * 100 + j)));
  const source = from(bursts).pipe(
    concatMap(
      (burst) =>
        new Observable<Envelope<Buffer | null>>(
          (s) =>
            void setImmediate(() => {
              burst.forEach((r) => s.next(r));
              s.complete();
            }),
        ),
    ),
  );
  const out = await lastValueFrom(source.pipe(decodeDocumentsInWorker({ deadLetter: () => t.fail('nothing is refused'), chunkRecords: 64 }), toArray()));
  t.same(
    out.map((e) => e.offset),
    Array.from({ length: 3000 }, (_, i) => i),
    'every record, in order',
  );
  t.same(
    out.map((e) => e.payload.title.toString()),
    Array.from({ length: 3000 }, (_, i) => `t${i}`),
  );
});

t.test('a record alone in its burst is not held back waiting for a full chunk', async (t) => {
  // The source never completes: the one record must come out on its own.
  const never = new Observable<Envelope<Buffer | null>>((s) => s.next(envelope('{"doc_id": 7, "title": "alone", "body": ""}', 0)));
  const [first] = await lastValueFrom(never.pipe(decodeDocumentsInWorker({ deadLetter: () => t.fail('refused') }), take(1), toArray()));
  t.equal(first?.payload.doc_id, 7n);
});

t.test('an error of the source ends the stream with that error', async (t) => {
  const failing = new Observable<Envelope<Buffer | null>>((s) => s.error(new Error('broker gone')));
  await t.rejects(lastValueFrom(failing.pipe(decodeDocumentsInWorker({ deadLetter: () => {} }))), /broker gone/);
  await t.resolves(lastValueFrom(of(envelope('{"doc_id": 8, "title": "", "body": ""}', 0)).pipe(decodeDocumentsInWorker({ deadLetter: () => {} }))));
});
