import 'reflect-metadata';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Redis } from 'ioredis';
import pg from 'pg';
import request from 'supertest';
import { DataSource } from 'typeorm';
import { createSampleApp } from '../sample-app/create-sample-app.js';
import { testPlatform } from './helpers/test-app.js';
import { Category } from '../sample-app/entities/category.entity.js';
import { Product } from '../sample-app/entities/product.entity.js';
import { SEED_PRODUCTS } from '../sample-app/seed/seed-data.js';
import { dropPostgresSchema, POSTGRES_URL } from './helpers/databases.js';
import { freePort, ScratchRedis } from './helpers/redis.js';
import { buildSample, stopProcess } from './helpers/sample-process.js';
import { uniqueName } from './helpers/unique-name.js';
import { until } from './helpers/wait.js';

const MAIN = resolve('dist-sample/sample-app/main.js');

/** A compiled sample started in a working directory of its own, with its whole output kept. */
interface Run {
  child: ChildProcess;
  port: number;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<number | null>;
}

/** `env` over this process's own; a variable given as `undefined` is left out (unset). */
function run(env: Record<string, string | undefined>, port: number, cwd: string): Run {
  let stdout = '';
  let stderr = '';
  const child = spawn(process.execPath, [MAIN], {
    cwd,
    env: { ...process.env, NODE_OPTIONS: '', PORT: String(port), SAMPLE_DB_DELAY_MS: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
  return { child, port, stdout: () => stdout, stderr: () => stderr, exited };
}

/** Waits for the start-up block's last line (the dashboard's), or for the process to exit. */
async function startedUp(sample: Run): Promise<string> {
  await until(
    () => /^cache dashboard: /m.test(sample.stdout()) || sample.child.exitCode !== null,
    `the banner (output so far: ${sample.stdout()}${sample.stderr()})`,
    60_000,
  );
  return sample.stdout();
}

/** The dashboard line when no `ADMIN_TOKEN` is set: a random token, printed in the URL. */
const RANDOM_TOKEN_LINE = (port: number) =>
  new RegExp(
    `^cache dashboard: http://localhost:${port}/admin/output-cache/login\\?token=([\\w-]{24}) \\(a random token for this run; set ADMIN_TOKEN to choose one\\)$`,
    'm',
  );

describe('sample shop start-up (compiled, in processes of its own)', () => {
  const cwd = mkdtempSync(join(tmpdir(), 'sample-ops-'));
  const runs: Run[] = [];
  let scratch: ScratchRedis;
  const schema = uniqueName('oc_sample_ops');

  beforeAll(async () => {
    buildSample();
    scratch = new ScratchRedis(await freePort());
    await scratch.start();
  }, 120_000);
  afterAll(async () => {
    await Promise.all(runs.map((r) => stopProcess(r.child)));
    await scratch?.kill();
    await dropPostgresSchema(schema).catch(() => {});
    rmSync(cwd, { recursive: true, force: true });
  });

  it('prints one short banner (platform, store, database, TTL/grace, URL) and creates DATABASE_SCHEMA', async () => {
    const port = await freePort();
    const prefix = `${uniqueName('oc_sample_ops')}:`;
    const sample = run(
      {
        OUTPUT_CACHE_STORE: 'redis',
        REDIS_URL: scratch.url,
        SAMPLE_REDIS_PREFIX: prefix,
        DATABASE_URL: POSTGRES_URL,
        DATABASE_SCHEMA: schema, // does not exist yet: the sample creates it
        SAMPLE_CACHE_TTL: '45',
        ADMIN_TOKEN: undefined,
      },
      port,
      cwd,
    );
    runs.push(sample);
    const out = await startedUp(sample);
    expect(sample.child.exitCode).toBeNull();
    expect(out).toContain(`nestjs-output-cache sample shop: http://localhost:${port}`);
    expect(out).toMatch(/^ {2}platform {2}Express/m);
    // The prefix the store really uses (SAMPLE_REDIS_PREFIX), not the default.
    expect(out).toContain(`store     redis (${scratch.url}, prefix ${prefix})`);
    expect(out).toMatch(new RegExp(`database  PostgreSQL postgres://.*\\(schema ${schema}\\)`));
    expect(out).toContain('TTL 45 s, grace 30 s');
    // Nest's module and route mapping lines are gone (about 55 of them before).
    expect(out).not.toMatch(/RoutesResolver|RouterExplorer|InstanceLoader|Mapped \{/);
    expect(sample.stderr()).toBe('');
    expect(out.trim().split('\n').length).toBeLessThanOrEqual(8);

    // The schema exists and the shop was seeded into it.
    const res = await request(`http://127.0.0.1:${port}`).get('/');
    expect(res.status).toBe(200);

    // The store keys its entries under that prefix.
    const redis = new Redis(scratch.url);
    try {
      await until(async () => (await redis.keys(`${prefix}*`)).length > 0, `keys under ${prefix}`);
    } finally {
      redis.disconnect();
    }

    // The dashboard line's URL opens the dashboard: the token in it is the one the guard takes.
    const token = RANDOM_TOKEN_LINE(port).exec(out)?.[1];
    expect(token).toBeDefined();
    const login = await request(`http://127.0.0.1:${port}`).get(
      `/admin/output-cache/login?token=${token}`,
    );
    expect(login.status).toBeGreaterThanOrEqual(300);
    expect(login.status).toBeLessThan(400);
    await request(`http://127.0.0.1:${port}`)
      .get('/admin/output-cache/stats')
      .set('Authorization', `Bearer ${token}`)
      .expect(200);
    const client = new pg.Client({ connectionString: POSTGRES_URL });
    await client.connect();
    try {
      const { rows } = await client.query(`SELECT count(*)::int AS n FROM "${schema}".product`);
      expect(rows[0].n).toBe(SEED_PRODUCTS.length);
    } finally {
      await client.end();
    }
  }, 90_000);

  it('SAMPLE_LOG=log brings Nest’s start-up lines back', async () => {
    const port = await freePort();
    const sample = run({ SAMPLE_LOG: 'log' }, port, cwd);
    runs.push(sample);
    await until(
      () => /^ {2}logs /m.test(sample.stdout()) || sample.child.exitCode !== null,
      'the banner',
      60_000,
    );
    expect(sample.stdout()).toMatch(/Mapped \{\/product\/:slug, GET\} route/);
  }, 90_000);

  it('prints on its defaults the block README shows, the dashboard line included', async () => {
    const port = await freePort();
    // Unset what the banner reports, whatever this run's environment holds.
    const defaults = Object.fromEntries(
      [
        'OUTPUT_CACHE_STORE',
        'DATABASE_URL',
        'DATABASE_SCHEMA',
        'SAMPLE_PLATFORM',
        'SAMPLE_CACHE_TTL',
        'SAMPLE_CACHE_GRACE',
        'SAMPLE_LOG',
        'SAMPLE_CDN',
        'ADMIN_TOKEN',
      ].map((name) => [name, undefined]),
    );
    const sample = run(defaults, port, cwd);
    runs.push(sample);
    const out = await startedUp(sample);
    expect(out).toMatch(RANDOM_TOKEN_LINE(port));
    const readme = readFileSync('README.md', 'utf8');
    const block = /On start the sample prints one block[^\n]*\n\n```text\n([\s\S]*?)```/.exec(
      readme,
    );
    expect(block).not.toBeNull();
    // The same lines, but for the port and the random token.
    const same = (text: string) =>
      text
        .trim()
        .replaceAll(`localhost:${port}`, 'localhost:3000')
        .replace(/token=[\w-]{24} /, 'token=<random> ');
    expect(same(out)).toBe(same(block![1]!));
  }, 90_000);

  it('fails at start with one line and exit code 1 when the PostgreSQL database does not exist', async () => {
    const name = uniqueName('oc_no_such_db');
    const url = new URL(POSTGRES_URL);
    url.pathname = `/${name}`;
    const sample = run({ DATABASE_URL: url.toString() }, await freePort(), cwd);
    runs.push(sample);
    expect(await sample.exited).toBe(1);
    expect(sample.stdout()).toBe('');
    if (url.password) url.password = '***';
    expect(sample.stderr().trim().split('\n')).toEqual([
      `sample shop cannot start: database "${name}" does not exist (DATABASE_URL ${url}): ` +
        `create it first, e.g. createdb -h ${url.hostname} -U ${url.username || 'postgres'} ${name}`,
    ]);
  }, 60_000);

  it('fails at start, with one line and a non-zero exit, when REDIS_URL does not answer', async () => {
    const deadPort = await freePort(); // nothing listens there
    const sample = run(
      { OUTPUT_CACHE_STORE: 'redis', REDIS_URL: `redis://127.0.0.1:${deadPort}` },
      await freePort(),
      cwd,
    );
    runs.push(sample);
    const code = await sample.exited;
    expect(code).not.toBe(0);
    expect(sample.stdout()).toBe('');
    const lines = sample.stderr().trim().split('\n');
    expect(lines).toEqual([
      expect.stringMatching(
        new RegExp(
          `^sample shop cannot start: cannot reach Redis at redis://127\\.0\\.0\\.1:${deadPort}/? \\(REDIS_URL\\): connect ECONNREFUSED .*OUTPUT_CACHE_STORE=memory$`,
        ),
      ),
    ]);
  }, 60_000);

  it('fails at start with one line when REDIS_URL is not a Redis URL', async () => {
    const sample = run(
      { OUTPUT_CACHE_STORE: 'tiered', REDIS_URL: '127.0.0.1:6379' },
      await freePort(),
      cwd,
    );
    runs.push(sample);
    expect(await sample.exited).not.toBe(0);
    expect(sample.stderr().trim()).toMatch(
      /^sample shop cannot start: REDIS_URL .* is not a redis:\/\/ or rediss:\/\/ URL; write it as redis:\/\/host:6379$/,
    );
  }, 60_000);
});

describe('sample shop back office', () => {
  let app: NestExpressApplication;
  let http: () => ReturnType<typeof request>;

  beforeAll(async () => {
    app = await createSampleApp({
      database: ':memory:',
      dbDelayMs: 0,
      logger: false,
      platform: testPlatform,
    });
    await app.listen(0, '127.0.0.1');
    const server = app.getHttpServer();
    http = () => request(server);
  });
  afterAll(() => app?.close());

  const product = (id: number) =>
    app.get(DataSource).getRepository(Product).findOneByOrFail({ id });

  it.each([
    ['PATCH', '/admin/products/1', { nmae: 'Typo' }, /unknown field "nmae".*did you mean "name"/],
    [
      'PATCH',
      '/admin/products/1',
      { price: 5, colour: 'red' },
      /unknown field "colour"; it takes "name", "price", "costPrice", "description"/,
    ],
    [
      'PATCH',
      '/admin/categories/1',
      { title: 'x' },
      /PATCH \/admin\/categories\/:id: unknown field "title"; it takes "name"/,
    ],
    [
      'PATCH',
      '/admin/settings/CatalogSettings.ShowProductSku',
      { value: 'false', vaule: 'x' },
      /unknown field "vaule"/,
    ],
    ['POST', '/admin/outage', { donw: true }, /unknown field "donw".*did you mean "down"/],
    [
      'POST',
      '/admin/reset',
      { everything: true },
      /POST \/admin\/reset: unknown field "everything"; it takes no fields/,
    ],
  ])('%s %s answers 400 naming an unknown field (%j)', async (method, path, body, message) => {
    const before = await product(1);
    const req = method === 'PATCH' ? http().patch(path) : http().post(path);
    const res = await req.send(body);
    expect(res.status).toBe(400);
    expect(res.body.message).toMatch(message);
    // Nothing changed, not even the known fields sent along.
    expect(await product(1)).toEqual(before);
  });

  it('POST /admin/reset puts the seed data back (same ids), ends the outage and empties the cache', async () => {
    const seeded = await product(1);
    await http().patch('/admin/products/1').send({ name: 'Renamed', price: 1 }).expect(200);
    await http().patch('/admin/categories/1').send({ name: 'Renamed category' }).expect(200);
    await http().get(`/product/${seeded.slug}`).expect(200); // cached, showing "Renamed"
    await http().post('/admin/outage').send({ down: true }).expect(200);

    const res = await http().post('/admin/reset').expect(200);
    expect(res.body).toMatchObject({ reset: true });

    expect(await product(1)).toMatchObject({ id: 1, name: seeded.name, price: seeded.price });
    const category = await app.get(DataSource).getRepository(Category).findOneByOrFail({ id: 1 });
    expect(category.name).not.toBe('Renamed category');
    expect(await app.get(DataSource).getRepository(Product).count()).toBe(SEED_PRODUCTS.length);
    expect((await http().get('/admin/outage')).body).toEqual({ down: false });
    const page = await http().get(`/product/${seeded.slug}`).expect(200);
    expect(page.headers['x-cache']).toBe('MISS');
    expect(page.text).toContain(seeded.name);
    expect(page.text).not.toContain('Renamed');
  });

  it('an empty body resets too (curl -X POST without -d)', async () => {
    await http().post('/admin/reset').expect(200);
    await until(async () => (await product(1)).id === 1, 'product 1 after reset');
  });
});
