/**
 * The machine and the versions a run measured, for its JSON file: figures from different
 * machines or versions are not comparable, so every result says where it came from.
 */
import { readFile } from 'node:fs/promises';
import { cpus, loadavg, totalmem } from 'node:os';
import { resolve } from 'node:path';
import Kafka from '@confluentinc/kafka-javascript';
import type { Knex } from 'knex';

export const projectRoot = resolve(import.meta.dirname, '../..');

const packageVersion = async (name: string): Promise<string> => {
  try {
    const json = JSON.parse(await readFile(resolve(projectRoot, 'node_modules', name, 'package.json'), 'utf8')) as { version: string };
    return json.version;
  } catch {
    return 'unknown';
  }
};

/** The broker the test stack runs (test/stack/pom.xml); another broker is not asked. */
const stackKafkaVersion = async (): Promise<string> => {
  const pom = await readFile(resolve(projectRoot, 'test/stack/pom.xml'), 'utf8').catch(() => '');
  return /<kafka\.version>([^<]+)<\/kafka\.version>/.exec(pom)?.[1] ?? 'unknown';
};

export const describeEnvironment = async (knex: Knex) => {
  const [rows] = (await knex.raw('SELECT VERSION() AS v, @@innodb_buffer_pool_size AS pool, @@max_allowed_packet AS packet')) as [
    [{ v: string; pool: string | number; packet: string | number }],
  ];
  const cpuList = cpus();
  return {
    machine: {
      cpus: cpuList.length,
      cpuModel: cpuList[0]?.model ?? 'unknown',
      memoryBytes: totalmem(),
      loadAverageAtStart: loadavg(),
    },
    versions: {
      node: process.version,
      librdkafka: Kafka.librdkafkaVersion,
      confluentKafkaJavascript: await packageVersion('@confluentinc/kafka-javascript'),
      kafkajs: await packageVersion('kafkajs'),
      knex: await packageVersion('knex'),
      mysql2: await packageVersion('mysql2'),
      mariadb: rows[0].v,
      kafkaBroker: await stackKafkaVersion(),
    },
    database: { innodbBufferPoolBytes: Number(rows[0].pool), maxAllowedPacket: Number(rows[0].packet) },
  };
};
