// Fault 9: poison records of every kind, and a valid document whose row is larger than the
// server's max_allowed_packet, among good documents on every partition: each poison record is
// dead-lettered with its reason in the headers and every partition keeps moving to its end.
import t from 'tap';
import { DLQ_HEADERS } from '../../sinks/deadLetterWriter.js';
import { docJson, documents, range, scenario, startMember, verifyDelivery, waitForAllStored, type Outgoing } from '../helpers/faults.js';

t.test('poison records of every kind and a row over max_allowed_packet are dead-lettered; partitions keep moving', async (t) => {
  const s = await scenario(t, 'poison', { partitions: 3, topicConfig: { 'max.message.bytes': String(40 * 1024 * 1024) } });
  const [[packet]] = (await s.knex.raw('SELECT @@max_allowed_packet AS bytes')) as [[{ bytes: string }]];
  const maxPacket = Number(packet.bytes);
  const poison: [string, Outgoing][] = [
    ['SyntaxError', { key: 'p-syntax', value: '{"doc_id": 1, "title": ', expect: 'dead' }],
    ['NotAnObject', { key: 'p-array', value: '[1,2,3]', expect: 'dead' }],
    ['SchemaError', { key: 'p-no-title', value: '{"doc_id": 5, "body": "no title"}', expect: 'dead' }],
    ['SchemaError', { key: 'p-string-id', value: '{"doc_id": "123", "title": "t", "body": "b"}', expect: 'dead' }],
    ['SchemaError', { key: 'p-fraction', value: '{"doc_id": 1.5, "title": "t", "body": "b"}', expect: 'dead' }],
    ['SchemaError', { key: 'p-int64-overflow', value: '{"doc_id": 9223372036854775808, "title": "t", "body": "b"}', expect: 'dead' }],
    ['SchemaError', { key: 'p-title-number', value: '{"doc_id": 6, "title": 7, "body": "b"}', expect: 'dead' }],
    ['SchemaError', { key: 'p-long-url', value: `{"doc_id": 8, "title": "t", "body": "b", "url": "${'u'.repeat(300)}"}`, expect: 'dead' }],
    ['EmptyValue', { key: 'p-null', value: null, expect: 'dead' }],
    ['EncodingError', { key: 'p-bad-utf8', value: Buffer.from([0x7b, 0xc3, 0x28, 0x7d]), expect: 'dead' }],
  ];
  // Valid JSON and schema, but no single INSERT can carry it.
  const hugeBody = 'h'.repeat(maxPacket + 1024 * 1024);
  const huge: Outgoing = { key: '900000001', value: docJson(900000001, 'too big for one packet', hugeBody), expect: 'dead' };
  // Big, but it fits: it must become a row, not a dead letter.
  const bigBody = 'b'.repeat(Math.floor(maxPacket / 4));
  const big: Outgoing = { key: '900000002', value: docJson(900000002, 'big but fits', bigBody), expect: 'row', title: 'big but fits', body: bigBody };

  // Poison spread through the stream, on every partition, between good documents.
  const good = documents(range(0, 12_000));
  const stream: Outgoing[] = [];
  const extras = [...poison.map(([, m]) => m), huge, big];
  for (const [i, d] of good.entries()) {
    stream.push(d);
    if (i % 1000 === 500) {
      const extra = extras.shift();
      if (extra) stream.push(extra);
    }
  }
  stream.push(...extras);
  // Keys decide partitions; a second copy of each poison record under other keys reaches the rest.
  for (const [, m] of poison) stream.push({ ...m, key: `${m.key}-again` });
  await s.ledger.send(s, stream, 1000);

  const member = startMember(s, { env: { DOCPIPE_MAX_INFLIGHT_BYTES: String(64 * 1024 * 1024) } });
  await waitForAllStored(s, 180_000, [member]);
  const v = await verifyDelivery(t, s);
  const { code } = await member.terminate();
  t.equal(code, 0, 'stops cleanly');

  for (const [errorClass, m] of poison) {
    for (const key of [m.key, `${m.key}-again`]) {
      const copy = v.deadLetters.find((d) => d.key === key);
      t.equal(copy?.errorClass, errorClass, `${key}: dead-lettered as ${errorClass}`);
      t.ok(copy?.reason, `${key}: with a reason`);
      t.equal(copy && copy.message.headers?.some((h) => DLQ_HEADERS.stage in h), true, `${key}: names the stage`);
      const original = m.value === null ? null : Buffer.from(m.value);
      t.same(copy?.message.value ?? null, original, `${key}: original value byte for byte`);
    }
  }
  const hugeCopy = v.deadLetters.find((d) => d.key === huge.key);
  t.ok(hugeCopy, 'the row over max_allowed_packet was dead-lettered');
  t.comment(`row over max_allowed_packet: ${String(hugeCopy?.errorClass)}: ${String(hugeCopy?.reason).slice(0, 200)}`);
  t.equal(hugeCopy?.message.value?.length, Buffer.byteLength(huge.value as string), 'its whole value is in the dead letter');
  const [[row]] = (await s.knex.raw('SELECT LENGTH(body) AS n FROM input_data WHERE doc_id = 900000002')) as [[{ n: string } | undefined]];
  t.equal(Number(row?.n), bigBody.length, 'the big row that fits was written whole');
});
