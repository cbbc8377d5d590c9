// Private servers for faults that take a broker or a database down: the shared ones on 9092 and
// 3306 serve everyone else's tests and must never be stopped. Each test starts its own, on free
// ports and in a temporary directory, and removes them in its teardown, also when it fails.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import knex from 'knex';
import type { DbConnection } from './faults.js';
import type { Teardown } from './stack.js';
import { waitFor } from './wait.js';

const root = resolve(import.meta.dirname, '../..');

const portFree = (port: number): Promise<boolean> =>
  new Promise((done) => {
    const server = createServer();
    server.once('error', () => done(false));
    server.listen(port, '127.0.0.1', () => server.close(() => done(true)));
  });

/** A base port such that base + each offset is free (checked, not reserved). */
export const freeBasePort = async (offsets: readonly number[]): Promise<number> => {
  for (let attempt = 0; attempt < 200; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * 9_000);
    let free = true;
    for (const o of offsets) {
      if (!(await portFree(base + o))) {
        free = false;
        break;
      }
    }
    if (free) return base;
  }
  throw new Error('no free ports found');
};

const run = (command: string, args: string[], env: Record<string, string>, timeoutMs = 180_000): Promise<string> =>
  new Promise((done, fail) =>
    execFile(command, args, { cwd: root, env: { ...process.env, ...env }, timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) =>
      err ? fail(new Error(`${command} ${args.join(' ')} failed: ${err.message}\n${stderr}`)) : done(stdout + stderr),
    ),
  );

export interface PrivateKafka {
  brokers: string;
  /** Bootstrap address of one node (1-based). */
  node(n: number): string;
  /** One-node mode: a clean stop and start, data kept. */
  restart(): Promise<void>;
  stop(): Promise<void>;
  start(): Promise<void>;
  /** Three-node mode. */
  stopNode(n: number, kill?: boolean): Promise<void>;
  startNode(n: number): Promise<void>;
  /** Where the broker keeps its data and logs. */
  dir: string;
}

/**
 * A broker of its own through test/stack/kafka.sh: one node (about 5 s to start) or three
 * (about 15 s). `serverProps` adds server.properties lines, e.g. a SASL listener; `{port}`
 * in them is replaced by the node's client port.
 */
export const privateKafka = async (
  t: Teardown,
  options: { nodes?: 1 | 3; serverProps?: (clientPort: number) => string; extraPorts?: number[] } = {},
): Promise<PrivateKafka> => {
  const nodes = options.nodes ?? 1;
  const offsets = nodes === 1 ? [0, 1, ...(options.extraPorts ?? [])] : [0, 1, 2, 100, 101, 102];
  const base = await freeBasePort(offsets);
  const dir = mkdtempSync(join(tmpdir(), 'docpipe-fault-kafka-'));
  const env: Record<string, string> = {
    DOCPIPE_STACK_DIR: dir,
    DOCPIPE_KAFKA_PORT: String(base),
    DOCPIPE_KAFKA_CLUSTER_PORT: String(base),
    DOCPIPE_KAFKA_STOP_TIMEOUT: '20',
    ...(options.serverProps && { DOCPIPE_KAFKA_SERVER_PROPS: options.serverProps(base) }),
  };
  const script = resolve(root, 'test/stack/kafka.sh');
  const kafka = (...args: string[]) => run('bash', [script, ...args], env);
  const mode = ['--nodes', String(nodes)];
  t.teardown(async () => {
    await kafka('down', ...mode).catch(() => {});
    // A node left half-started by a failed script is found by its pid file.
    for (const sub of ['single', 'cluster/node-1', 'cluster/node-2', 'cluster/node-3']) {
      try {
        process.kill(Number(readFileSync(join(dir, 'kafka', sub, 'pid'), 'utf8')), 'SIGKILL');
      } catch {
        // not running
      }
    }
    rmSync(dir, { recursive: true, force: true });
  });
  // kafka.sh draws a cluster id from 16 random bytes in URL-safe base64; one in 64 starts with
  // '-', which the storage tool reads as an option and refuses. Kafka's own ids never start
  // with '-': give the script one of those.
  let id = '';
  while (id === '' || id.startsWith('-')) id = randomBytes(16).toString('base64url');
  mkdirSync(join(dir, 'kafka'), { recursive: true });
  writeFileSync(join(dir, 'kafka', `${nodes === 1 ? 'single' : 'cluster'}.cluster-id`), id);
  await kafka('up', ...mode);
  const node = (n: number) => `127.0.0.1:${base + n - 1}`;
  return {
    brokers: nodes === 1 ? node(1) : [1, 2, 3].map(node).join(','),
    node,
    dir,
    restart: async () => {
      await kafka('down', ...mode);
      await kafka('up', ...mode);
    },
    stop: async () => void (await kafka('down', ...mode)),
    start: async () => void (await kafka('up', ...mode)),
    stopNode: async (n, kill = false) => void (await kafka('stop-node', String(n), ...(kill ? ['--kill'] : []))),
    startNode: async (n) => void (await kafka('start-node', String(n))),
  };
};

/** Runs one of the broker's own command-line tools (e.g. kafka.admin.ConfigCommand). */
export const kafkaTool = async (mainClass: string, args: string[]): Promise<string> => {
  const version = /<kafka.version>(.*)<\/kafka.version>/.exec(readFileSync(resolve(root, 'test/stack/pom.xml'), 'utf8'))?.[1];
  const cache = process.env.DOCPIPE_CACHE_DIR ?? join(process.env.XDG_CACHE_HOME ?? join(process.env.HOME ?? '/root', '.cache'), 'docpipe');
  const java = process.env.JAVA_HOME ? join(process.env.JAVA_HOME, 'bin/java') : 'java';
  return run(java, ['-Xmx256m', '-cp', join(cache, `kafka-${String(version)}`, 'libs', '*'), mainClass, ...args], {});
};

export interface PrivateMariadb {
  db: DbConnection;
  /** An account with every privilege (SUPER included), when the server was asked for accounts. */
  admin: DbConnection;
  stop(): Promise<void>;
  kill(): Promise<void>;
  start(): Promise<void>;
  readonly running: boolean;
}

/**
 * A MariaDB server of its own in a temporary directory, without grant tables (any user and
 * password get in, with every privilege), so that its `docpipe` account needs no setup.
 * `args` add server options, e.g. `--innodb-lock-wait-timeout=1`.
 */
export const privateMariadb = async (t: Teardown, args: string[] = [], options: { accounts?: boolean } = {}): Promise<PrivateMariadb> => {
  const dir = mkdtempSync(join(tmpdir(), 'docpipe-fault-mariadb-'));
  const port = await freeBasePort([0]);
  await run('mariadb-install-db', ['--no-defaults', `--datadir=${dir}/data`, '--auth-root-authentication-method=normal', '--user=root', '--skip-test-db'], {});
  let server: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  const db: DbConnection = { host: '127.0.0.1', port, user: 'docpipe', password: 'docpipe' };
  const start = async () => {
    const child = spawn(
      'mariadbd',
      [
        '--no-defaults',
        `--datadir=${dir}/data`,
        `--port=${port}`,
        `--socket=${dir}/sock`,
        '--bind-address=127.0.0.1',
        '--user=root',
        '--skip-grant-tables',
        '--innodb-buffer-pool-size=128M',
        `--log-error=${dir}/error.log`,
        `--pid-file=${dir}/pid`,
        ...args,
      ],
      { stdio: 'ignore' },
    );
    server = child;
    exited = new Promise((done) => child.on('exit', () => done()));
    const probe = knex({ client: 'mysql2', connection: { ...db } });
    try {
      await waitFor(
        async () => {
          if (child.exitCode !== null) throw new Error(`mariadbd exited at start:\n${readFileSync(`${dir}/error.log`, 'utf8').slice(-2000)}`);
          return probe.raw('SELECT 1').then(
            () => true,
            () => false,
          );
        },
        'the private MariaDB to accept connections',
        60_000,
        200,
      );
    } finally {
      await probe.destroy();
    }
  };
  const signal = async (sig: NodeJS.Signals) => {
    const child = server;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    child.kill(sig);
    await exited;
  };
  t.teardown(async () => {
    await signal('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });
  await start();
  const admin: DbConnection = options.accounts ? { ...db, user: 'admin', password: 'admin' } : db;
  if (options.accounts) {
    // Loading the grant tables ends the skip-grant-tables mode until a restart: from here on,
    // docpipe's account has what a production account has, and no SUPER (read_only binds it).
    const conn = knex({ client: 'mysql2', connection: { ...db }, pool: { min: 0, max: 1 } });
    try {
      await conn.raw('FLUSH PRIVILEGES');
      await conn.raw("CREATE USER 'admin'@'%' IDENTIFIED BY 'admin'");
      await conn.raw("GRANT ALL PRIVILEGES ON *.* TO 'admin'@'%' WITH GRANT OPTION");
      await conn.raw("CREATE USER 'docpipe'@'%' IDENTIFIED BY 'docpipe'");
      await conn.raw("GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, DROP, ALTER, INDEX, REFERENCES ON *.* TO 'docpipe'@'%'");
    } finally {
      await conn.destroy();
    }
  }
  return {
    db,
    admin,
    start,
    stop: () => signal('SIGTERM'),
    kill: () => signal('SIGKILL'),
    get running() {
      return server !== undefined && server.exitCode === null && server.signalCode === null;
    },
  };
};
