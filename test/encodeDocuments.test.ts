import t from 'tap';
import { from, lastValueFrom, toArray } from 'rxjs';
import { encodeDocuments, LARGE_TEXT, type EncodedText } from '../operators/encodeDocuments.js';
import type { Envelope } from '../pipeline/core/envelope.js';
import type { Document } from '../operators/validate.js';
import { envelopeOf } from './helpers/envelopes.js';

const envelope = (payload: Document, offset: number): Envelope<Document> => envelopeOf(payload, offset);

/** Large text stays the same string; any other is exactly its UTF-8 bytes. */
const encodes = (out: EncodedText, text: string): boolean => (text.length > LARGE_TEXT ? out === text : Buffer.isBuffer(out) && out.equals(Buffer.from(text)));

t.test('every text comes out as its own UTF-8 bytes, across many shared buffers; large text stays a string', async (t) => {
  // Sizes around the shared buffer's limits: empty, 4-byte characters, one just under and one
  // over a quarter of 64 KiB (encoded on its own), one on each side of the large-text limit,
  // enough documents to fill several buffers.
  const texts = [
    '',
    'ascii',
    '中文 text 混合',
    '🦀'.repeat(100),
    'é'.repeat(5_461),
    '中'.repeat(5_462),
    'x'.repeat(40_000),
    '中'.repeat(LARGE_TEXT),
    'y'.repeat(LARGE_TEXT + 1),
  ];
  const docs: Document[] = Array.from({ length: 700 }, (_, i) => ({
    doc_id: BigInt(i),
    title: texts[i % texts.length]!,
    body: `${i} ${texts[(i * 3) % texts.length]!}`,
    url: i % 5 === 0 ? null : `https://例子.测试/${i}`,
  }));
  const out = await lastValueFrom(from(docs.map(envelope)).pipe(encodeDocuments(), toArray()));
  t.equal(out.length, docs.length);
  // Checked after all were written, so a later write over an earlier view would show.
  const wrong = out.filter((e, i) => {
    const d = docs[i]!;
    const p = e.payload;
    return (
      p.doc_id !== d.doc_id ||
      !encodes(p.title, d.title) ||
      !encodes(p.body, d.body) ||
      (d.url == null ? p.url !== null : p.url === null || !encodes(p.url, d.url)) ||
      e.offset !== i
    );
  });
  t.same(
    wrong.map((e) => e.offset),
    [],
    'no document differs from its source',
  );
  t.equal(
    out.filter((e) => typeof e.payload.title === 'string').length,
    docs.filter((d) => d.title.length > LARGE_TEXT).length,
    'only large text stays a string',
  );
});
