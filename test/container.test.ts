// docpipe's image, checked where no Docker engine runs: the Dockerfile is read and its build
// reproduced in a temporary directory — each stage a directory of its own, with exactly the
// files its COPY lines name and the commands its RUN lines run (package installs skipped: this
// machine has the system libraries), under the ENV it declares. Then the last stage's tree,
// which holds only what its COPY --from lines take, is started by its ENTRYPOINT and CMD against
// the real broker and database: /healthz, the image's own HEALTHCHECK, and one document from
// Kafka to a row.
import t, { type Test } from 'tap';
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { cpSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, dirname, join, posix, resolve } from 'node:path';
import { command, copyArgs, envPairs, healthcheckArgs, last, stages, type Healthcheck } from './helpers/dockerfile.js';
import { createTopic, db, freshDatabase, kafkaBrokers, produce, uniqueName } from './helpers/stack.js';
import { waitFor } from './helpers/wait.js';

const root = resolve(import.meta.dirname, '..');
const dockerfile = readFileSync(resolve(root, 'Dockerfile'), 'utf8');
const pkg = JSON.parse(readFileSync(resolve(root, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
const lock = JSON.parse(readFileSync(resolve(root, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean }> };

// Installing the dependencies builds the Kafka client's librdkafka from source here (80-120 s
// on two idle cores, six minutes seen on busy ones), then the compiler runs.
t.setTimeout(1_200_000);

const work = mkdtempSync(join(tmpdir(), 'docpipe-image-'));
t.teardown(() => rmSync(work, { recursive: true, force: true }));

interface Run {
  code: number | null;
  output: string;
}

const run = (argv: readonly string[], cwd: string, env: NodeJS.ProcessEnv, timeoutMs: number): Promise<Run> =>
  new Promise((done) => {
    execFile(argv[0]!, argv.slice(1), { cwd, env, timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      done({ code: err ? (typeof err.code === 'number' ? err.code : null) : 0, output: stdout + stderr });
    });
  });

/** The tail of a command's output, enough to see why it failed. */
const tail = (s: string): string => s.split('\n').slice(-40).join('\n');

/** What the build context leaves out: .dockerignore, in the plain top-level form it keeps. */
const ignored = new Set(
  existsSync(resolve(root, '.dockerignore'))
    ? readFileSync(resolve(root, '.dockerignore'), 'utf8')
        .split('\n')
        .map((l) => l.trim())
        .filter((l) => l !== '' && !l.startsWith('#'))
        .map((l) => l.replace(/\/$/, ''))
    : [],
);

/** A stage as built: its filesystem (a directory standing for `/`) and its image settings. */
interface BuiltStage {
  name: string | undefined;
  image: string;
  dir: string;
  workdir: string;
  env: Record<string, string>;
  user: string | undefined;
  entrypoint: string[];
  cmd: string[];
  healthcheck: Healthcheck | undefined;
}

/** A path inside a stage's filesystem. */
const inStage = (s: BuiltStage, path: string): string => join(s.dir, posix.resolve(s.workdir, path));

/** Copies as COPY does: a directory's contents into the destination; files into it when it ends with `/`. */
const copy = (source: string, destination: string, intoDirectory: boolean): void => {
  const target = lstatSync(source).isDirectory() || !intoDirectory ? destination : join(destination, basename(source));
  mkdirSync(dirname(target), { recursive: true });
  cpSync(source, target, { recursive: true, verbatimSymlinks: true });
};

const nodePrefix = dirname(dirname(process.execPath));

/** The environment of a RUN line: this machine's, without npm's own variables, and the stage's ENV. */
const buildEnv = (s: BuiltStage): NodeJS.ProcessEnv => ({
  ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k) && k !== 'NODE_OPTIONS')),
  ...s.env,
  // node-gyp would download the headers of the Node that builds; they are installed beside it
  // (/usr for the machine's own Node).
  ...(existsSync(join(nodePrefix, 'include/node/node.h')) && { npm_config_nodedir: nodePrefix }),
});

/**
 * Builds every stage in order. Each step is an assertion, so a failing one is named with its
 * line; the build stops at the first.
 */
const build = async (t: Test): Promise<BuiltStage | undefined> => {
  const built: BuiltStage[] = [];
  for (const [i, stage] of stages(dockerfile).entries()) {
    const base = built.find((b) => b.name === stage.image);
    const s: BuiltStage = {
      name: stage.name,
      image: stage.image,
      dir: join(work, `stage-${i}`),
      workdir: base?.workdir ?? '/',
      env: { ...base?.env },
      user: base?.user,
      entrypoint: base?.entrypoint ?? [],
      cmd: base?.cmd ?? [],
      healthcheck: base?.healthcheck,
    };
    if (base) cpSync(base.dir, s.dir, { recursive: true, verbatimSymlinks: true });
    mkdirSync(s.dir, { recursive: true });
    built.push(s);
    for (const ins of stage.instructions) {
      const where = `line ${ins.line}: ${ins.op} ${ins.args.length > 80 ? `${ins.args.slice(0, 77)}...` : ins.args}`;
      switch (ins.op) {
        case 'WORKDIR':
          s.workdir = posix.resolve(s.workdir, ins.args);
          mkdirSync(inStage(s, '.'), { recursive: true });
          break;
        case 'ENV':
          Object.assign(s.env, envPairs(ins.args));
          break;
        case 'USER':
          s.user = ins.args;
          break;
        case 'ENTRYPOINT':
          s.entrypoint = command(ins.args);
          // As in Docker: a new entrypoint drops the CMD it inherited.
          s.cmd = [];
          break;
        case 'CMD':
          s.cmd = command(ins.args);
          break;
        case 'HEALTHCHECK':
          s.healthcheck = healthcheckArgs(ins.args);
          break;
        case 'EXPOSE':
        case 'LABEL':
        case 'STOPSIGNAL':
          break;
        case 'COPY': {
          const c = copyArgs(ins.args);
          const from = c.from === undefined ? undefined : (built.find((b) => b.name === c.from) ?? built[Number(c.from)]);
          if (c.from !== undefined && (!from || from === s)) {
            t.fail(`${where}: no earlier stage ${c.from}`);
            return undefined;
          }
          const destination = inStage(s, c.destination);
          const intoDirectory = c.destination.endsWith('/') || c.sources.length > 1;
          for (const src of c.sources) {
            const path = from ? join(from.dir, posix.resolve('/', src)) : join(root, posix.normalize(src));
            const top = posix
              .normalize(src)
              .replace(/^\.?\/+/, '')
              .split('/')[0]!;
            if (/[*?[]/.test(src) || !existsSync(path) || (!from && ignored.has(top))) {
              t.fail(`${where}: ${src} is not there to copy`);
              return undefined;
            }
            copy(path, destination, intoDirectory);
          }
          break;
        }
        case 'RUN': {
          // System packages: this machine has the libraries and tools they install.
          if (/\bapt-get\b/.test(ins.args)) break;
          const r = await run(command(ins.args), inStage(s, '.'), buildEnv(s), 900_000);
          t.equal(r.code, 0, where, { output: tail(r.output) });
          if (r.code !== 0) return undefined;
          break;
        }
        default:
          t.fail(`${where}: the reproduction does not know ${ins.op}; teach it before using it`);
          return undefined;
      }
    }
  }
  return built.at(-1);
};

/** Every file path under `dir`, relative to it, not descending into node_modules. */
const files = (dir: string, prefix = ''): string[] =>
  readdirSync(join(dir, prefix), { withFileTypes: true }).flatMap((e) => {
    const rel = prefix ? `${prefix}/${e.name}` : e.name;
    return e.isDirectory() && e.name !== 'node_modules' ? files(dir, rel) : [rel];
  });

const freePort = () =>
  new Promise<number>((done) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => done(port));
    });
  });

let image: BuiltStage | undefined;

t.test('the Dockerfile asks for what the image needs', async (t) => {
  const all = stages(dockerfile);
  t.ok(all.length >= 2, 'multi-stage: what builds is not what runs');
  t.same(
    all.map((s) => s.image),
    all.map(() => 'node:24-bookworm-slim'),
    'every stage on the current Node LTS, slim',
  );
  const final = all.at(-1)!;
  const user = last(final, 'USER')?.args;
  t.ok(user && !/^(root|0)(:|$)/.test(user), `the image runs as a user of its own (${user})`);
  t.same(command(last(final, 'ENTRYPOINT')?.args ?? '[]'), ['/app/bin/docpipe'], 'the launcher is the entrypoint');
  const health = last(final, 'HEALTHCHECK');
  t.ok(health, 'the image declares a HEALTHCHECK');
  t.match(health && healthcheckArgs(health.args).test?.join(' '), /\/healthz/, 'on /healthz');
  t.same(
    [...ignored].filter((name) => !/^[\w.-]+$/.test(name)),
    [],
    '.dockerignore names top-level paths only, the form this reproduction applies',
  );
  t.notOk(
    final.instructions.some((i) => i.op === 'COPY' && !copyArgs(i.args).from),
    'the runtime stage takes its files from the build stages only',
  );
});

t.test('the build reproduced from the Dockerfile, without Docker', async (t) => {
  image = await build(t);
  if (!image) return;
  const app = inStage(image, '.');
  const shipped = files(app);
  t.same(
    shipped.filter((f) => !/^(package\.json|bin\/docpipe|node_modules|dist\/(pipeline|operators|sinks)\/.+\.(js|d\.ts|js\.map|d\.ts\.map))$/.test(f)),
    [],
    'the image holds the built library, the launcher, package.json and node_modules, nothing else',
  );
  t.ok(shipped.includes('dist/pipeline/cli/main.js'), 'the command is built');
  t.same(
    shipped.filter((f) => /(^|\/)(bench|test|examples)\//.test(f)),
    [],
    'no benchmark, test or example code',
  );
  const modules = join(app, 'node_modules');
  t.same(
    Object.keys(pkg.dependencies).filter((d) => !existsSync(join(modules, d, 'package.json'))),
    [],
    'every runtime dependency is installed',
  );
  // Development-only as the lock file marks them: a package both sides need (mysql2 brings
  // @types/node) rightly stays.
  t.same(
    Object.entries(lock.packages)
      .filter(([path, p]) => p.dev === true && /^node_modules\/(@[^/]+\/)?[^/]+$/.test(path) && existsSync(join(app, path)))
      .map(([path]) => path),
    [],
    'no development-only package is',
  );
  t.notOk(existsSync(join(modules, 'better-sqlite3')), 'nor the SQLite driver, a native module no server database needs');
});

t.test('the image runs: /healthz, its HEALTHCHECK, and one document from Kafka to a row', async (t) => {
  if (!image) {
    t.fail('the image was not built');
    return;
  }
  const topic = await createTopic(t, 'container', 1);
  const { name: database, knex } = await freshDatabase(t);
  const port = await freePort();
  // What a container gets: the image's ENV, and the settings compose would pass.
  const env: NodeJS.ProcessEnv = {
    PATH: process.env['PATH'] ?? '/usr/local/bin:/usr/bin:/bin',
    HOME: work,
    ...image.env,
    DOCPIPE_KAFKA_BROKERS: kafkaBrokers,
    DOCPIPE_DB_HOST: db.host,
    DOCPIPE_DB_PORT: String(db.port),
    DOCPIPE_DB_USER: db.user,
    DOCPIPE_DB_PASSWORD: db.password,
    DOCPIPE_DB_NAME: database,
    DOCPIPE_TOPICS: topic,
    DOCPIPE_GROUP_ID: uniqueName('container'),
    DOCPIPE_METRICS_PORT: String(port),
  };
  const [executable, ...args] = [...image.entrypoint, ...image.cmd];
  t.same([executable, ...args], ['/app/bin/docpipe', 'run'], 'the image starts `docpipe run` through the launcher');
  const cwd = inStage(image, '.');
  const child = spawn(inStage(image, executable!), args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (b: Buffer) => (output += b.toString()));
  child.stderr.on('data', (b: Buffer) => (output += b.toString()));
  const exited = once(child, 'exit');
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  const alive = () => {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`docpipe ended (${child.exitCode ?? child.signalCode}): ${tail(output)}`);
  };

  const health = (await waitFor(
    async () => {
      alive();
      return fetch(`http://127.0.0.1:${port}/healthz`).then(
        (r) => r,
        () => undefined,
      );
    },
    '/healthz',
    60_000,
  ))!;
  t.equal(health.status, 200, '/healthz answers 200');

  const check = image.healthcheck?.test;
  t.ok(check, 'the image has a health check command');
  if (check) {
    const r = await run(check, cwd, env, 30_000);
    t.equal(r.code, 0, `the HEALTHCHECK command passes: ${check.join(' ')}`, { output: r.output });
  }

  const docId = '9007199254740993';
  await produce(topic, [{ key: docId, value: `{"doc_id": ${docId}, "title": "From the image", "body": "one document"}` }]);
  const rows = (await waitFor(
    async () => {
      alive();
      const r = await knex('input_data')
        .select<{ doc_id: string; title: string; body: string }[]>('doc_id', 'title', 'body')
        .catch(() => []);
      return r.length > 0 ? r : undefined;
    },
    'the row in input_data',
    60_000,
  ))!;
  t.same(rows, [{ doc_id: docId, title: 'From the image', body: 'one document' }], 'the document is a row, its doc_id exact');

  child.kill('SIGTERM');
  const [code] = (await exited) as [number | null];
  t.equal(code, 0, 'SIGTERM stops it cleanly', { output: tail(output) });
});

t.test('asked for SQLite, the image says which package it lacks', async (t) => {
  if (!image) {
    t.fail('the image was not built');
    return;
  }
  const r = await run(
    [inStage(image, image.entrypoint[0]!), 'run'],
    inStage(image, '.'),
    {
      PATH: process.env['PATH'] ?? '/usr/bin:/bin',
      HOME: work,
      ...image.env,
      DOCPIPE_DB_CLIENT: 'sqlite',
      DOCPIPE_DB_FILE: join(work, 'docpipe.db'),
      // Nowhere: were the driver there, the start would go on to wait for a broker.
      DOCPIPE_KAFKA_BROKERS: '127.0.0.1:1',
      DOCPIPE_TOPICS: uniqueName('container_sqlite'),
      DOCPIPE_METRICS_PORT: '0',
    },
    30_000,
  );
  t.equal(r.code, 1, 'the start fails at once', { output: tail(r.output) });
  t.match(r.output, /docpipe: .*\bbetter-sqlite3\b.*npm install better-sqlite3/, 'naming the driver and how to install it');
});
