// No Docker engine runs here, so docker-compose-with-kafka.yaml is checked statically: against
// the Compose Specification's JSON schema, and for services that agree with each other.
import t from 'tap';
import { readFile, access } from 'node:fs/promises';
import { resolve } from 'node:path';
import { Ajv } from 'ajv';
import { parse } from 'yaml';
import { SETTINGS } from '../pipeline/cli/runConfig.js';
import { healthcheckArgs, last, stages } from './helpers/dockerfile.js';

const root = resolve(import.meta.dirname, '..');

// dclint ships the Compose Specification's schema but does not export the file, so it is
// read from the installed package.
const composeValidator = async () => {
  const file = resolve(root, 'node_modules/dclint/schemas/compose.schema.json');
  const schema = JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>;
  // It names draft-07 by an https URL ajv does not know; ajv's default dialect is draft-07.
  delete schema['$schema'];
  return new Ajv({ allErrors: true, strict: false, validateFormats: false }).compile(schema);
};
interface Service {
  image?: string;
  build?: { context: string; dockerfile?: string };
  environment?: Record<string, string | number>;
  ports?: string[];
  depends_on?: Record<string, { condition: string }>;
  hostname?: string;
  init?: boolean;
  stop_grace_period?: string;
  healthcheck?: { test?: string[] | string; disable?: boolean };
}
interface Compose {
  services: Record<string, Service>;
}

const load = async (): Promise<{ raw: unknown; compose: Compose }> => {
  const text = await readFile(resolve(root, 'docker-compose-with-kafka.yaml'), 'utf8');
  // merge: the file shares broker settings through YAML anchors and << keys, as Compose does.
  const raw: unknown = parse(text, { merge: true });
  return { raw, compose: raw as Compose };
};

const env = (s: Service | undefined, key: string): string => String(s?.environment?.[key] ?? '');

t.test('the compose file is valid against the Compose Specification schema', async (t) => {
  const { raw } = await load();
  const validate = await composeValidator();
  const ok = validate(raw);
  t.ok(ok, 'valid');
  t.same(validate.errors ?? [], [], 'no schema errors');
});

t.test('the schema check would catch a broken file', async (t) => {
  const { raw } = await load();
  const broken = structuredClone(raw) as { services: Record<string, Record<string, unknown>> };
  broken.services['mysql']!['ports'] = 'not-a-list';
  broken.services['docpipe']!['restart_policy'] = 'always';
  const validate = await composeValidator();
  t.notOk(validate(broken), 'an unknown key and a wrongly typed field are rejected');
});

t.test('three KRaft nodes agree on their quorum and listeners', async (t) => {
  const { compose } = await load();
  const brokers = Object.entries(compose.services).filter(([, s]) => s.image?.startsWith('apache/kafka:'));
  t.equal(brokers.length, 3, 'three brokers');
  t.equal(new Set(brokers.map(([, s]) => s.image)).size, 1, 'one pinned image for all');
  t.match(brokers[0]![1].image, /^apache\/kafka:\d+\.\d+\.\d+$/, 'the image version is pinned');

  const ids = brokers.map(([, s]) => env(s, 'KAFKA_NODE_ID'));
  t.equal(new Set(ids).size, 3, 'distinct node ids');
  const voters = new Set(brokers.map(([, s]) => env(s, 'KAFKA_CONTROLLER_QUORUM_VOTERS')));
  t.equal(voters.size, 1, 'every node has the same voter list');
  const voterList = [...voters][0]!.split(',').map((v) => {
    const [id, hostPort] = v.split('@');
    return { id, host: hostPort!.split(':')[0] };
  });
  for (const [name, s] of brokers) {
    t.ok(
      voterList.some((v) => v.id === env(s, 'KAFKA_NODE_ID') && v.host === name),
      `${name} is a voter under its own id and name`,
    );
    t.match(env(s, 'KAFKA_PROCESS_ROLES'), /broker/, `${name} is a broker`);
    t.match(env(s, 'KAFKA_PROCESS_ROLES'), /controller/, `${name} is a controller`);
    t.match(env(s, 'KAFKA_ADVERTISED_LISTENERS'), new RegExp(`INTERNAL://${name}:`), `${name} advertises its service name inside`);
    const external = /EXTERNAL:\/\/localhost:(\d+)/.exec(env(s, 'KAFKA_ADVERTISED_LISTENERS'))?.[1];
    t.ok(external && s.ports?.includes(`${external}:${external}`), `${name} publishes the external port it advertises`);
  }
  t.equal(new Set(brokers.map(([, s]) => env(s, 'CLUSTER_ID'))).size, 1, 'one cluster id');
  t.equal(env(brokers[0]![1], 'KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR'), '3', 'internal topics replicated 3 times');
});

t.test('clients point at services that exist, with matching credentials', async (t) => {
  const { compose } = await load();
  const names = new Set(Object.keys(compose.services));
  for (const [name, s] of Object.entries(compose.services)) {
    for (const dep of Object.keys(s.depends_on ?? {})) {
      t.ok(names.has(dep), `${name} depends on existing service ${dep}`);
    }
  }
  const internalListeners = new Set(
    Object.entries(compose.services)
      .filter(([, s]) => s.image?.startsWith('apache/kafka:'))
      .map(([n, s]) => `${n}:${/INTERNAL:\/\/[^:]*:(\d+)/.exec(env(s, 'KAFKA_ADVERTISED_LISTENERS'))?.[1]}`),
  );
  const docpipe = compose.services['docpipe'];
  const ui = compose.services['kafka-ui'];
  t.same(new Set(env(docpipe, 'DOCPIPE_KAFKA_BROKERS').split(',')), internalListeners, 'docpipe bootstraps from every broker');
  t.same(new Set(env(ui, 'KAFKA_CLUSTERS_0_BOOTSTRAPSERVERS').split(',')), internalListeners, 'kafka-ui bootstraps from every broker');

  const mysql = compose.services[env(docpipe, 'DOCPIPE_DB_HOST')];
  t.ok(mysql, 'docpipe connects to the mysql service by name');
  t.match(mysql?.image, /^mysql:8\.\d+\.\d+$/, 'MySQL 8, pinned');
  t.equal(env(docpipe, 'DOCPIPE_DB_USER'), env(mysql, 'MYSQL_USER'));
  t.equal(env(docpipe, 'DOCPIPE_DB_PASSWORD'), env(mysql, 'MYSQL_PASSWORD'));
  t.equal(env(docpipe, 'DOCPIPE_DB_NAME'), env(mysql, 'MYSQL_DATABASE'));
  t.ok((mysql as { command?: string[] }).command?.includes('--character-set-server=utf8mb4'), 'MySQL runs utf8mb4');

  t.ok(docpipe?.build, 'docpipe is built from this repository');
  await t.resolves(access(resolve(root, docpipe!.build!.context, docpipe!.build!.dockerfile ?? 'Dockerfile')), 'its Dockerfile exists');

  const hostPorts = Object.values(compose.services).flatMap((s) => (s.ports ?? []).map((p) => p.split(':')[0]));
  t.equal(new Set(hostPorts).size, hostPorts.length, 'no two services publish the same host port');
});

/** A Compose duration (`45s`, `1m30s`, `1500ms`) in milliseconds. */
const durationMs = (d: string): number => {
  const unit: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1000, ms: 1, us: 0.001 };
  const parts = [...d.matchAll(/(\d+(?:\.\d+)?)(h|ms|us|m|s)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join('') !== d) throw new Error(`not a duration: ${d}`);
  return parts.reduce((sum, p) => sum + Number(p[1]) * unit[p[2]!]!, 0);
};

t.test('docpipe stops gracefully under compose and reports its health', async (t) => {
  const { compose } = await load();
  const docpipe = compose.services['docpipe']!;
  t.equal(docpipe.init, true, 'an init runs as PID 1 and passes signals on');

  const drainMs = Number(docpipe.environment?.['DOCPIPE_DRAIN_TIMEOUT_MS'] ?? SETTINGS.find((s) => s.key === 'drainTimeoutMs')!.default);
  t.ok(docpipe.stop_grace_period, "a stop grace period is set (Docker's default is 10 s)");
  const graceMs = durationMs(docpipe.stop_grace_period ?? '10s');
  t.ok(graceMs > drainMs, `docker stop waits ${graceMs} ms, longer than the ${drainMs} ms drain timeout`);
  t.throws(() => durationMs('45 seconds'), 'the duration reader refuses what Compose would');
  t.equal(durationMs('1m30s'), 90_000);

  // The service's own health check, or else the image's.
  const own = docpipe.healthcheck;
  t.notOk(own?.disable === true || (Array.isArray(own?.test) && own.test[0] === 'NONE'), 'the health check is not disabled');
  const dockerfile = await readFile(resolve(root, docpipe.build!.context, docpipe.build!.dockerfile ?? 'Dockerfile'), 'utf8');
  const fromImage = last(stages(dockerfile).at(-1)!, 'HEALTHCHECK');
  const test = own?.test ?? (fromImage && healthcheckArgs(fromImage.args).test);
  t.match([test ?? []].flat().join(' '), /\/healthz/, "docpipe's health check asks /healthz");

  const port = String(docpipe.environment?.['DOCPIPE_METRICS_PORT'] ?? '9464');
  t.ok(docpipe.ports?.includes(`${port}:${port}`), `the operations port ${port} is published`);
});
