// Fault 13: security. A private broker with a SASL/SCRAM listener: docpipe connects with
// credentials (consumer, dead-letter producer and its admin client), the password never shows
// in its output, librdkafka's debug log included; wrong credentials stop it with a message
// that does not echo the password. Hostile strings land verbatim as data.
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { docJson, documents, range, scenario, startMember, verifyDelivery, waitFor, waitForAllStored, type Outgoing } from '../helpers/faults.js';
import { kafkaTool, privateKafka } from '../helpers/faultsServers.js';
import Kafka from '@confluentinc/kafka-javascript';

t.test('SASL/SCRAM: credentials work, the password never appears in logs, hostile strings land verbatim', async (t) => {
  const kafka = await privateKafka(t, {
    nodes: 1,
    extraPorts: [2],
    serverProps: (p) =>
      [
        `listeners=PLAINTEXT://127.0.0.1:${p},CONTROLLER://127.0.0.1:${p + 1},SASL_PLAINTEXT://127.0.0.1:${p + 2}`,
        `advertised.listeners=PLAINTEXT://127.0.0.1:${p},SASL_PLAINTEXT://127.0.0.1:${p + 2}`,
        'listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT',
        'sasl.enabled.mechanisms=SCRAM-SHA-512',
        'listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;',
      ].join('\n'),
  });
  const plain = kafka.brokers;
  const saslPort = Number(plain.split(':')[1]) + 2;
  const password = `pw-${randomBytes(12).toString('hex')}`;
  await kafkaTool('kafka.admin.ConfigCommand', [
    '--bootstrap-server',
    plain,
    '--alter',
    '--add-config',
    `SCRAM-SHA-512=[password=${password}]`,
    '--entity-type',
    'users',
    '--entity-name',
    'docpipe',
  ]);
  const sasl = { 'security.protocol': 'sasl_plaintext', 'sasl.mechanisms': 'SCRAM-SHA-512', 'sasl.username': 'docpipe', 'sasl.password': password } as const;
  const brokers = `127.0.0.1:${saslPort}`;
  // SCRAM credentials reach the listener asynchronously: wait until a client can log in.
  await waitFor(
    () =>
      new Promise<boolean>((done) => {
        const admin = Kafka.AdminClient.create({ 'bootstrap.servers': brokers, log_level: 0, ...sasl });
        admin.listTopics({ timeout: 3000 }, (err) => {
          admin.disconnect();
          done(!err);
        });
      }),
    'the SCRAM user to be able to log in',
    60_000,
    500,
  );

  const s = await scenario(t, 'sasl', { partitions: 2, brokers, rdkafka: { ...sasl }, keepTopic: true });
  const hostile: string[] = [
    "Robert'); DROP TABLE input_data;-- ",
    '`backticks` `input_data`; SELECT * FROM `mysql`.`user`',
    'NUL in the middle:\u0000:and at the end\u0000',
    '4-byte UTF-8: 𠜎𠜱 🦀🎉 𝄞',
    '\\ \\\\ " \' %s ? ?? :name $1 ${x} \r\n\t',
    '中文标题 and ﷽ and \u202eRTL override',
  ];
  const hostileDocs: Outgoing[] = hostile.map((text, i) => {
    const id = 500_000 + i;
    return { key: String(id), value: docJson(id, text, `${text} | ${text}`), expect: 'row', title: text, body: `${text} | ${text}` };
  });
  // A poison record: its dead letter must go through the SASL listener too.
  const poison: Outgoing = { key: 'poison', value: '{"doc_id": 1, "title": ', expect: 'dead' };
  await s.ledger.send(s, [...documents(range(0, 3000)), ...hostileDocs, poison]);

  const member = startMember(s, {
    env: { DOCPIPE_LOG_LEVEL: 'debug' },
    rdkafka: { debug: 'all' },
  });
  await waitForAllStored(s, 180_000, [member]);
  const { code } = await member.terminate();
  t.equal(code, 0, 'stops cleanly');
  await verifyDelivery(t, s);
  const stored = (await s.knex('input_data').select('doc_id', 'title', 'body').where('doc_id', '>=', 500_000).orderBy('doc_id')) as {
    title: string;
    body: string;
  }[];
  t.same(
    stored.map((r) => [r.title, r.body]),
    hostile.map((text) => [text, `${text} | ${text}`]),
    'hostile strings (SQL, backticks, NUL, 4-byte UTF-8) stored verbatim',
  );
  const log = member.fullOutput();
  t.ok(log.length > 100_000 && /SASL|SCRAM/i.test(log), `the debug log was on (${log.length} characters, SASL lines included)`);
  t.notOk(log.includes(password), 'the password appears nowhere in the output');
  t.notOk(log.includes(Buffer.from(password).toString('base64')), 'nor does its base64 form');

  const refused = startMember(s, {
    env: { DOCPIPE_LOG_LEVEL: 'debug', DOCPIPE_GROUP_ID: `${s.groupId}_wrong` },
    rdkafka: { debug: 'security,broker', 'sasl.password': `${password}-wrong` },
  });
  let timer: NodeJS.Timeout | undefined;
  const exit = await Promise.race([refused.exited, new Promise<'running'>((done) => (timer = setTimeout(() => done('running'), 90_000)))]);
  clearTimeout(timer);
  refused.kill();
  t.equal(exit, 1, 'wrong credentials stop docpipe with exit code 1');
  t.match(refused.fullOutput(), /auth|SASL/i, 'the message says authentication failed');
  t.notOk(refused.fullOutput().includes(password), 'the wrong password is not echoed either');
});
