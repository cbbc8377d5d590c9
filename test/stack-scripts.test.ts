// The stack scripts refuse clearly when a prerequisite is missing, and handle the states a
// previous run can leave behind. Each case runs the real script in a scratch state dir.
import t from 'tap';
import { execFile } from 'node:child_process';
import { copyFile, mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';

const scripts = resolve(import.meta.dirname, 'stack');

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

const run = (script: string, args: string[], env: Record<string, string>): Promise<Run> =>
  new Promise((done) => {
    execFile('bash', [join(scripts, script), ...args], { env: { ...process.env, ...env }, timeout: 150_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
      done({ code, stdout, stderr });
    });
  });

const scratch = async (t: { teardown(fn: () => unknown): void }): Promise<string> => {
  const dir = await mkdtemp(join(tmpdir(), 'docpipe-stack-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
};

/** Two consecutive free ports (client and controller of one broker). */
const freePortPair = async (): Promise<number> => {
  for (;;) {
    const first = await listen(0);
    const port = (first.address() as AddressInfo).port;
    first.close();
    try {
      const second = await listen(port + 1);
      second.close();
      return port;
    } catch {
      // port + 1 is taken; try another pair
    }
  }
};

const listen = (port: number) =>
  new Promise<ReturnType<typeof createServer>>((ok, fail) => {
    const server = createServer();
    server.once('error', fail);
    server.listen(port, '127.0.0.1', () => ok(server));
  });

t.test('kafka.sh without java names java and how to install it', async (t) => {
  const dir = await scratch(t);
  const r = await run('kafka.sh', ['up'], { JAVA_HOME: join(dir, 'no-jdk'), DOCPIPE_STACK_DIR: dir });
  t.not(r.code, 0, 'exits non-zero');
  t.match(r.stderr, /'.*no-jdk\/bin\/java' not found/, 'names the missing java');
  t.match(r.stderr, /Java 17/, 'says what to install');
});

t.test('kafka.sh without maven (and no cached jars) names mvn', async (t) => {
  const dir = await scratch(t);
  const r = await run('kafka.sh', ['fetch'], {
    DOCPIPE_MVN: join(dir, 'no-maven', 'mvn'),
    DOCPIPE_CACHE_DIR: join(dir, 'cache'),
    DOCPIPE_STACK_DIR: dir,
  });
  t.not(r.code, 0);
  t.match(r.stderr, /no-maven\/mvn' not found/);
  t.match(r.stderr, /Install Apache Maven/);
});

t.test('kafka.sh says when Maven Central cannot be reached', async (t) => {
  const dir = await scratch(t);
  // A mirror on a closed local port stands in for an unreachable Maven Central.
  const settings = join(dir, 'settings.xml');
  await writeFile(settings, `<settings><mirrors><mirror><id>nowhere</id><mirrorOf>*</mirrorOf><url>http://127.0.0.1:9/</url></mirror></mirrors></settings>`);
  const r = await run('kafka.sh', ['fetch'], {
    DOCPIPE_CACHE_DIR: join(dir, 'cache'),
    DOCPIPE_STACK_DIR: dir,
    DOCPIPE_MAVEN_ARGS: `-s ${settings} -Dmaven.repo.local=${join(dir, 'm2')}`,
  });
  t.not(r.code, 0);
  t.match(r.stderr, /Maven Central is unreachable/);
});

t.test('kafka.sh refuses a port taken by another process and names it', async (t) => {
  const dir = await scratch(t);
  const port = await freePortPair();
  const squatter = await listen(port);
  t.teardown(() => squatter.close());
  const r = await run('kafka.sh', ['up'], {
    DOCPIPE_STACK_DIR: dir,
    DOCPIPE_KAFKA_PORT: String(port),
  });
  t.not(r.code, 0);
  t.match(r.stderr, new RegExp(`port ${port} \\(node 1\\) is already taken by pid ${process.pid}`));
  t.match(r.stderr, /DOCPIPE_KAFKA_PORT/, 'says how to pick another port');
});

t.test('kafka.sh rejects a malformed setting, naming it', async (t) => {
  const r = await run('kafka.sh', ['up'], { DOCPIPE_KAFKA_PORT: 'ninety' });
  t.not(r.code, 0);
  t.match(r.stderr, /DOCPIPE_KAFKA_PORT must be a whole number, got 'ninety'/);
  const nodes = await run('kafka.sh', ['up', '--nodes', '2'], {});
  t.not(nodes.code, 0);
  t.match(nodes.stderr, /--nodes takes 1 or 3, got '2'/);
});

t.test('kafka.sh gives up on a broker that is not ready in time, shows its log, leaves nothing', async (t) => {
  const dir = await scratch(t);
  const port = await freePortPair();
  const r = await run('kafka.sh', ['up'], {
    DOCPIPE_STACK_DIR: dir,
    DOCPIPE_KAFKA_PORT: String(port),
    DOCPIPE_KAFKA_HEAP: '256m',
    DOCPIPE_KAFKA_READY_TIMEOUT: '5',
    // A quorum voter on a closed port: the broker runs but can never elect a controller.
    DOCPIPE_KAFKA_SERVER_PROPS: 'controller.quorum.voters=1@127.0.0.1:9',
  });
  t.not(r.code, 0);
  t.match(r.stderr, /did not serve metadata for 1 broker\(s\) within 5s/);
  t.match(r.stderr, /last lines of .*server\.log/, 'prints the tail of the broker log');
  const after = await run('kafka.sh', ['status'], { DOCPIPE_STACK_DIR: dir, DOCPIPE_KAFKA_PORT: String(port) });
  t.match(after.stdout, /single node 1: stopped/, 'the half-started broker was stopped');
});

t.test('kafka.sh up recovers a stale pid file and foreign data dir, is idempotent, down stops it', async (t) => {
  const dir = await scratch(t);
  const port = await freePortPair();
  const env = { DOCPIPE_STACK_DIR: dir, DOCPIPE_KAFKA_PORT: String(port), DOCPIPE_KAFKA_HEAP: '256m' };
  const node = join(dir, 'kafka', 'single');
  await mkdir(join(node, 'data'), { recursive: true });
  // A pid that cannot be ours (pid_max is below 2^22), and storage of some other cluster.
  await writeFile(join(node, 'pid'), '4999999\n');
  await writeFile(join(node, 'data', 'meta.properties'), 'version=1\ncluster.id=AAAAAAAAAAAAAAAAAAAAAA\nnode.id=1\n');
  t.teardown(() => run('kafka.sh', ['down'], env));

  const first = await run('kafka.sh', ['up'], env);
  t.equal(first.code, 0, first.stderr);
  t.match(first.stdout, /belongs to cluster AAAAAAAAAAAAAAAAAAAAAA.*wiping it/);
  t.match(first.stdout, new RegExp(`ready at 127\\.0\\.0\\.1:${port}`));

  const second = await run('kafka.sh', ['up'], env);
  t.equal(second.code, 0, second.stderr);
  t.match(second.stdout, /already running/, 'a second up is a no-op');

  const down = await run('kafka.sh', ['down'], env);
  t.equal(down.code, 0, down.stderr);
  t.match(down.stdout, /stopped 1 node/);
  const status = await run('kafka.sh', ['status'], env);
  t.match(status.stdout, /single node 1: stopped/);
});

t.test('mariadb.sh without a server binary says how to install one', async (t) => {
  const dir = await scratch(t);
  const r = await run('mariadb.sh', ['up'], {
    DOCPIPE_STACK_DIR: dir,
    // An admin command that cannot reach a server makes the script try to start one.
    DOCPIPE_DB_ADMIN: 'false',
    DOCPIPE_MARIADBD: join(dir, 'no-mariadbd'),
  });
  t.not(r.code, 0);
  t.match(r.stderr, /MariaDB server not found .*no-mariadbd/);
  t.match(r.stderr, /apt-get install -y mariadb-server/);
});

t.test('mariadb.sh refuses a port held by something that is not the database', async (t) => {
  const dir = await scratch(t);
  const squatter = await listen(0);
  t.teardown(() => squatter.close());
  const port = (squatter.address() as AddressInfo).port;
  const r = await run('mariadb.sh', ['up'], {
    DOCPIPE_STACK_DIR: dir,
    DOCPIPE_DB_ADMIN: 'false',
    DOCPIPE_DB_PORT: String(port),
  });
  t.not(r.code, 0);
  t.match(r.stderr, new RegExp(`port ${port} is taken by pid ${process.pid}`));
});

t.test('mariadb.sh rejects malformed settings, naming the variable', async (t) => {
  const r = await run('mariadb.sh', ['up'], { DOCPIPE_DB_USER: "x'; DROP USER root; --" });
  t.not(r.code, 0);
  t.match(r.stderr, /DOCPIPE_DB_USER must be 1-32 letters, digits or '_'/);
});

t.test('mariadb.sh up is idempotent and the user logs in over TCP', async (t) => {
  const first = await run('mariadb.sh', ['up'], {});
  t.equal(first.code, 0, first.stderr);
  const second = await run('mariadb.sh', ['up'], {});
  t.equal(second.code, 0, second.stderr);
  t.match(second.stdout, /ready at 127\.0\.0\.1:3306, database 'docpipe', user 'docpipe'/);
});

/** A repository of its own with only the baseline script, its helpers and a bench/baseline saying `names`. */
const baselineRepo = async (t: { teardown(fn: () => unknown): void }, names: string): Promise<string> => {
  const dir = await scratch(t);
  await mkdir(join(dir, 'test/stack'), { recursive: true });
  await mkdir(join(dir, 'bench'));
  for (const file of ['baseline.sh', 'lib.sh']) await copyFile(join(scripts, file), join(dir, 'test/stack', file));
  await writeFile(join(dir, 'bench/baseline'), `# the build the gate holds docpipe against\n${names}\n`);
  await promisify(execFile)('git', ['init', '-q', dir]);
  return dir;
};

const runIn = (dir: string, script: string, args: string[]): Promise<Run> =>
  new Promise((done) => {
    execFile('bash', [join(dir, 'test/stack', script), ...args], { timeout: 60_000 }, (err, stdout, stderr) => {
      done({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
    });
  });

t.test('baseline.sh exits 3 and names the commit when the clone does not have it', async (t) => {
  const missing = 'a'.repeat(40);
  const dir = await baselineRepo(t, missing);
  const r = await runIn(dir, 'baseline.sh', ['build', join(dir, 'out')]);
  t.equal(r.code, 3, 'exit 3: CI runs the gate without the baseline rule and says so');
  t.match(r.stderr, new RegExp(`baseline commit ${missing} is not in this clone`));
  t.equal(r.stdout, '', 'no build directory printed');
});

t.test('baseline.sh refuses a bench/baseline that names no commit, quoting it', async (t) => {
  const dir = await baselineRepo(t, 'main');
  const r = await runIn(dir, 'baseline.sh', ['build', join(dir, 'out')]);
  t.equal(r.code, 1);
  t.match(r.stderr, /bench\/baseline: expected a commit hash, found 'main'/);
});
