import t from 'tap';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { readCsvDocuments, CsvFileError, type CsvRow, DEFAULT_MAPPING } from '../pipeline/documents/csvDocuments.js';

const rowsOf = async (content: string | Buffer, mapping = DEFAULT_MAPPING): Promise<CsvRow[]> => {
  const dir = t.testdir({});
  const file = join(dir, 'in.csv');
  await writeFile(file, content);
  const out: CsvRow[] = [];
  for await (const row of readCsvDocuments(file, mapping)) out.push(row);
  return out;
};

t.test('RFC 4180: quotes, commas, newlines in fields, BOM and CRLF', async (t) => {
  const csv = '\ufeffdoc_id,title,body,url\r\n1,"a, b","line one\r\nline ""two""",https://x\r\n9223372036854775807,中文,正文 🦀,\r\n';
  const rows = await rowsOf(csv);
  t.same(
    rows.map((r) => ('doc' in r ? r.doc : r)),
    [
      { doc_id: 1n, title: 'a, b', body: 'line one\r\nline "two"', url: 'https://x' },
      { doc_id: 9223372036854775807n, title: '中文', body: '正文 🦀' },
    ],
  );
  // Line numbers name the line a record ends on.
  const lf = await rowsOf('doc_id,title,body\n1,"multi\nline",b\n2,t,b\n');
  t.same(
    lf.map((r) => r.line),
    [3, 4],
  );
});

t.test('rows that cannot be mapped are reported with their line and skipped', async (t) => {
  const csv = 'doc_id,title,body,url\n1,ok,b,\nx,bad id,b,\n2,ragged\n9223372036854775808,too big,b,\n3,long url,b,' + 'u'.repeat(300) + '\n4,ok,b,\n';
  const rows = await rowsOf(csv);
  t.same(
    rows.map((r) => ('doc' in r ? `${r.line}:ok` : `${r.line}:${r.reason}`)),
    [
      '2:ok',
      '3:doc_id "x" is not an integer',
      '4:wrong number of fields: 2, the header has 4',
      '5:doc_id 9223372036854775808 is outside the signed 64-bit range',
      '6:url is longer than 256 characters',
      '7:ok',
    ],
  );
});

t.test('a column mapping joins body columns', async (t) => {
  const rows = await rowsOf('id,name,a,b\n7,T,first,second\n', { docId: 'id', title: 'name', body: ['a', 'b'], bodySeparator: ' | ', url: undefined });
  t.same(rows, [{ line: 2, doc: { doc_id: 7n, title: 'T', body: 'first | second' } }]);
});

t.test('whole-file problems stop with a clear error', async (t) => {
  await t.rejects(rowsOf('doc_id,title,body\n1,"unterminated,b\n'), { name: 'CsvFileError', message: /Quote Not Closed/i });
  await t.rejects(rowsOf(Buffer.concat([Buffer.from('doc_id,title,body\n1,'), Buffer.from([0xff, 0xfe]), Buffer.from(',b\n')])), CsvFileError);
  await t.rejects(rowsOf(Buffer.concat([Buffer.from('doc_id,title,body\n1,'), Buffer.from([0xff, 0xfe]), Buffer.from(',b\n')])), {
    message: /not valid UTF-8/,
  });
  await t.rejects(rowsOf('id,title,body\n1,a,b\n'), { message: /the header has no column "doc_id"/ });
  const missing = readCsvDocuments('/nonexistent/file.csv');
  await t.rejects(missing.next(), { name: 'CsvFileError', message: 'no such file: /nonexistent/file.csv' });
});
