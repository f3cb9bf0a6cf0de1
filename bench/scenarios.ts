import { execFileSync } from 'node:child_process';
import { HOLES, PAGE_HTML } from './fixtures.js';
import type { Scenario } from './scenario.js';
import { PG_PROCESSES, processCpuMicros, REDIS_PROCESSES } from './services.js';

/** Every page response must carry (nearly) the whole 20 KB page. */
const PAGE_BYTES = Buffer.byteLength(PAGE_HTML);

let missCounter = 0;

/**
 * The scenarios of the `http` group, in run order (odd rounds run them in reverse). Add one here,
 * with its app in `apps.ts` if none fits, and a target in `TARGETS` if it has one.
 */
export const SCENARIOS: Scenario[] = [
  {
    id: 'a',
    title: 'baseline: constant string (OutputCacheModule app, not cacheable)',
    app: 'output-cache',
    path: '/baseline',
    expect: { headers: { 'x-cache': null }, minBytes: PAGE_BYTES },
  },
  {
    id: 'a0',
    title: 'baseline: constant string (app without the module)',
    app: 'plain',
    path: '/baseline',
    expect: { headers: { 'x-cache': null }, minBytes: PAGE_BYTES },
  },
  {
    id: 'b',
    title: 'uncached @Render() hbs page (OutputCacheModule app)',
    app: 'output-cache',
    path: '/render',
    expect: { headers: { 'x-cache': null }, minBytes: PAGE_BYTES },
  },
  {
    id: 'c',
    title: '@nestjs/cache-manager CacheInterceptor hit (string route)',
    app: 'cache-manager',
    path: '/cm-string',
    expect: { headers: { 'x-cache': 'HIT' }, minBytes: PAGE_BYTES },
    note:
      'cache-manager caches the handler return value: on a @Render() route that is the view ' +
      'model, and the view renders again on every hit, so it cannot cache rendered HTML; ' +
      'measured on a route returning the finished 20 KB string instead.',
  },
  {
    id: 'd',
    title: 'nestjs-output-cache hit: @Cacheable() @Render() page',
    app: 'output-cache',
    path: '/cached',
    expect: { headers: { 'x-cache': 'HIT' }, minBytes: PAGE_BYTES },
    cache: 'hit',
  },
  {
    id: 'e',
    title: 'nestjs-output-cache miss: @Cacheable() @Render(), new URL each request',
    app: 'output-cache',
    path: () => `/cached?r=${++missCounter}`,
    expect: { headers: { 'x-cache': 'MISS' }, minBytes: PAGE_BYTES },
    cache: 'miss',
    note:
      'every request has its own ?r= and is rendered, captured and stored (the 100 MiB memory ' +
      'store evicts LRU entries as it fills); the store is emptied after each run.',
    after: async (host) => {
      await host.clearOutputCache('output-cache');
    },
  },
  {
    id: 'dm',
    title: 'nestjs-output-cache hit (d) with Prometheus metrics on, decision log off',
    app: 'output-cache-metrics',
    path: '/cached',
    expect: { headers: { 'x-cache': 'HIT' }, minBytes: PAGE_BYTES },
    cache: 'hit',
    note:
      'OutputCacheMetricsModule.forRoot() on the default registry: each hit bumps a counter ' +
      'and observes the duration histogram; the logger is off, so the decision log only checks ' +
      'the level.',
  },
];

/** A ratio of two scenarios' req/s that must reach `min` (without `min`: reported only). */
export interface Target {
  numerator: string;
  denominator: string;
  min?: number;
  label: string;
}

export const TARGETS: Target[] = [
  { numerator: 'd', denominator: 'a', min: 1.0, label: 'hit vs uncached baseline string' },
  { numerator: 'd', denominator: 'c', min: 1.0, label: 'hit vs @nestjs/cache-manager hit' },
  { numerator: 'e', denominator: 'b', min: 0.95, label: 'miss within 5% of uncached render' },
  { numerator: 'dm', denominator: 'd', min: 0.95, label: 'hit with metrics / hit' },
];

/** Issue 3: donut holes. The same ~20 KB page, in one app with three view components. */
export const HOLES_SCENARIOS: Scenario[] = [
  {
    id: 'f0',
    title: 'hit without holes: @Cacheable() @Render() page (the (d) of this app)',
    app: 'holes',
    path: '/holes/plain',
    expect: { headers: { 'x-cache': 'HIT' }, minBytes: PAGE_BYTES },
    cache: 'hit',
  },
  {
    id: 'f',
    title: 'hit with 3 holes: the same page, 3 trivial view components rendered per hit',
    app: 'holes',
    path: '/holes/cached',
    expect: {
      headers: { 'x-cache': 'HIT' },
      minBytes: PAGE_BYTES,
      bodyIncludes: HOLES.map((h) => h.text),
    },
    cache: 'hit',
  },
  {
    id: 'fb',
    title: 'uncached @Render() of the page with the 3 holes (no @Cacheable)',
    app: 'holes',
    path: '/holes/render',
    expect: {
      headers: { 'x-cache': null },
      minBytes: PAGE_BYTES,
      bodyIncludes: HOLES.map((h) => h.text),
    },
    note:
      'holes are @ViewComponent() providers whose render() returns a short constant, placed ' +
      'with {{{component "HoleN"}}} (registerHandlebarsHelpers on the hbs module); f0 is the ' +
      'same page without the component calls, in the same app.',
  },
];

export const HOLES_TARGETS: Target[] = [
  { numerator: 'f', denominator: 'f0', min: 0.8, label: 'hit with 3 holes vs hit without holes' },
  { numerator: 'f', denominator: 'fb', label: 'hit with 3 holes vs uncached render with holes' },
];

const redisCpu = () => processCpuMicros(REDIS_PROCESSES);
const pgCpu = () => processCpuMicros(PG_PROCESSES);

/** A hit of the (d) page served from one store. */
function storeHit(id: string, title: string, app: Scenario['app'], extra: Partial<Scenario> = {}) {
  const scenario: Scenario = {
    id,
    title,
    app,
    path: '/cached',
    expect: { headers: { 'x-cache': 'HIT' }, minBytes: PAGE_BYTES },
    cache: 'hit',
    ...extra,
  };
  return scenario;
}

/** Issue 5: the hit of the same 20 KB page per store, each in its own app. */
export const STORE_SCENARIOS: Scenario[] = [
  storeHit('mem', 'memory store (default)', 'store-memory'),
  storeHit('tiered', 'tiered store (memory L1 + Redis L2)', 'store-tiered', {
    serviceCpu: redisCpu,
  }),
  storeHit('redis', 'Redis store', 'store-redis', { serviceCpu: redisCpu }),
  storeHit('sqlite', 'TypeORM store on SQLite (better-sqlite3, temp file)', 'store-sqlite'),
  storeHit('pg', 'TypeORM store on PostgreSQL', 'store-postgres', { serviceCpu: pgCpu }),
];

export const STORE_TARGETS: Target[] = [
  { numerator: 'tiered', denominator: 'mem', min: 0.95, label: 'tiered store hit vs memory' },
  { numerator: 'redis', denominator: 'mem', min: 0.6, label: 'Redis store hit vs memory' },
  {
    numerator: 'sqlite',
    denominator: 'mem',
    min: 0.5,
    label: 'TypeORM SQLite store hit vs memory',
  },
  { numerator: 'pg', denominator: 'mem', label: 'TypeORM PostgreSQL store hit vs memory' },
];

/** Command names of Varnish's manager and its worker child. */
const VARNISH_PROCESSES = ['varnishd', 'cache-main'];

/** Whether `varnishd` is installed: the Varnish row runs only then. */
function hasVarnish(): boolean {
  try {
    execFileSync('sh', ['-c', 'command -v varnishd'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/**
 * Issue 11: the fast lane. The same 20 KB page as a constant Nest route, an ordinary hit, a
 * fast-lane hit, a bare node:http server and, when installed, Varnish caching everything in
 * front of the same app.
 */
export const FASTLANE_SCENARIOS: Scenario[] = [
  {
    id: 'la',
    title: 'constant string route (fast-lane app, not cacheable)',
    app: 'fast-lane',
    path: '/baseline',
    expect: { headers: { 'x-cache': null }, minBytes: PAGE_BYTES },
  },
  {
    id: 'ld',
    title: 'ordinary hit: @Cacheable() @Render() page',
    app: 'fast-lane',
    path: '/cached',
    expect: { headers: { 'x-cache': 'HIT' }, minBytes: PAGE_BYTES },
    cache: 'hit',
  },
  {
    id: 'lf',
    title: 'fast-lane hit: @Cacheable({ fastLane: true }) @Render() page',
    app: 'fast-lane',
    path: '/fast',
    expect: { headers: { 'x-cache': 'HIT' }, minBytes: PAGE_BYTES },
    cache: 'hit',
  },
  {
    id: 'lfa',
    title: 'Fastify: constant string route (same app on @nestjs/platform-fastify)',
    app: 'fast-lane-fastify',
    path: '/baseline',
    expect: { headers: { 'x-cache': null }, minBytes: PAGE_BYTES },
  },
  {
    id: 'lfd',
    title: 'Fastify: ordinary hit: @Cacheable() @Render() page',
    app: 'fast-lane-fastify',
    path: '/cached',
    expect: { headers: { 'x-cache': 'HIT' }, minBytes: PAGE_BYTES },
    cache: 'hit',
  },
  {
    id: 'lff',
    title: 'Fastify: fast-lane hit: @Cacheable({ fastLane: true }) @Render() page',
    app: 'fast-lane-fastify',
    path: '/fast',
    expect: { headers: { 'x-cache': 'HIT' }, minBytes: PAGE_BYTES },
    cache: 'hit',
  },
  {
    id: 'lr',
    title: 'raw node:http server answering the same page (no Nest, no cache)',
    app: 'raw-node',
    path: '/',
    expect: { headers: { 'x-cache': null }, minBytes: PAGE_BYTES },
  },
  ...(hasVarnish()
    ? [
        {
          id: 'lv',
          title: 'Varnish hit: varnishd caching everything in front of the same app',
          app: 'varnish',
          path: '/cached',
          expect: { headers: { 'x-varnish-cache': 'HIT' }, minBytes: PAGE_BYTES },
          serviceCpu: () => processCpuMicros(VARNISH_PROCESSES),
          note:
            'varnishd -s malloc,64m, a bench VCL that hashes every GET and keeps it an hour ' +
            '(cookies and Authorization dropped); X-Varnish-Cache says HIT when it came from Varnish. ' +
            'Service CPU: varnishd and its cache-main child (every one on the machine).',
        } satisfies Scenario,
      ]
    : []),
];

export const FASTLANE_TARGETS: Target[] = [
  { numerator: 'lf', denominator: 'la', min: 3, label: 'fast-lane hit vs Nest constant route' },
  { numerator: 'lf', denominator: 'lr', label: 'fast-lane hit vs raw node:http' },
  { numerator: 'ld', denominator: 'la', min: 1.0, label: 'ordinary hit vs Nest constant route' },
  { numerator: 'lf', denominator: 'lv', min: 0.8, label: 'fast-lane hit vs Varnish hit' },
  {
    numerator: 'lff',
    denominator: 'lfa',
    min: 3,
    label: 'Fastify: fast-lane hit vs Nest constant route',
  },
  { numerator: 'lff', denominator: 'lr', label: 'Fastify: fast-lane hit vs raw node:http' },
  {
    numerator: 'lfd',
    denominator: 'lfa',
    min: 1.0,
    label: 'Fastify: ordinary hit vs Nest constant route',
  },
  { numerator: 'lff', denominator: 'lv', min: 0.8, label: 'Fastify: fast-lane hit vs Varnish hit' },
  { numerator: 'lfd', denominator: 'ld', label: 'Fastify hit vs Express hit (ordinary)' },
  { numerator: 'lff', denominator: 'lf', label: 'Fastify hit vs Express hit (fast lane)' },
];

/** A table of HTTP scenarios measured together, with ratios to one of them. */
export interface HttpGroup {
  id: string;
  title: string;
  /** The scenario every ratio of the table is to. */
  reference: string;
  scenarios: Scenario[];
  targets: Target[];
  /** Printed under the table. */
  note?: string;
}

export const HTTP_GROUPS: HttpGroup[] = [
  {
    id: 'http',
    title: 'Hits and misses against baselines',
    reference: 'a',
    scenarios: SCENARIOS,
    targets: TARGETS,
  },
  {
    id: 'holes',
    title: 'Donut holes (issue 3)',
    reference: 'f0',
    scenarios: HOLES_SCENARIOS,
    targets: HOLES_TARGETS,
  },
  {
    id: 'stores',
    title: 'Stores (issue 5): hits of the 20 KB page per store',
    reference: 'mem',
    scenarios: STORE_SCENARIOS,
    targets: STORE_TARGETS,
    note:
      'service CPU: the CPU time of the Redis or PostgreSQL server processes over the run (all ' +
      'of them on this machine), not counted as other load; SQLite runs inside the app process. ' +
      'Redis keys under bench:{pid}:, PostgreSQL tables bench_{pid}_* in schema oc_bench, all ' +
      'removed afterwards.',
  },
  {
    id: 'fastlane',
    title: 'Fast lane (issue 11): hits at the speed of node:http',
    reference: 'la',
    scenarios: FASTLANE_SCENARIOS,
    targets: FASTLANE_TARGETS,
    note: hasVarnish() ? undefined : 'varnishd is not installed: no Varnish row.',
  },
];
