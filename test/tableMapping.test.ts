// A key's text is what the sink de-duplicates a batch by and what the database compares: two
// spellings of one integer must give one text, and a value outside 64 bits must be refused, on
// the fast path for ordinary ids as on the exact one.
import t from 'tap';
import { compileMapping } from '../sinks/tableMapping.js';

const mapping = compileMapping<{ id: unknown }>({ key: ['id'], columns: { id: { type: 'bigint' } } });
const text = (id: unknown): unknown => mapping.values({ id })[0];

t.test('bigint columns: one text per integer, however it is spelt', async (t) => {
  t.equal(text(42), '42');
  t.equal(text('42'), '42');
  t.equal(text(42n), '42');
  t.equal(text('007'), '7', 'leading zeros dropped');
  t.equal(text('-0'), '0', 'no negative zero');
  t.equal(text(0), '0');
  t.equal(text(-12), '-12');
  t.equal(text(Number.MAX_SAFE_INTEGER), '9007199254740991');
  t.equal(text('9223372036854775807'), '9223372036854775807', 'the largest, as text');
  t.equal(text('-9223372036854775808'), '-9223372036854775808', 'the smallest, as text');
  t.equal(text(9223372036854775807n), '9223372036854775807', 'the largest, as a bigint');
});

t.test('bigint columns: what does not fit 64 bits, or is no integer, is refused with the column named', async (t) => {
  for (const bad of ['9223372036854775808', '-9223372036854775809', 2 ** 63, Number.MAX_SAFE_INTEGER + 1, 1.5, '1.5', '12a', '', ' 1', true]) {
    t.throws(() => text(bad), { errorClass: 'ColumnError', message: /column id: expected a signed 64-bit integer/ }, JSON.stringify(String(bad)));
  }
});
