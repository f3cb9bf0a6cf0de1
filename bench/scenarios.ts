import { PAGE_HTML } from './fixtures.js';
import type { Scenario } from './scenario.js';

/** Every page response must carry (nearly) the whole 20 KB page. */
const PAGE_BYTES = Buffer.byteLength(PAGE_HTML);

let missCounter = 0;

/**
 * The scenarios, in run order (odd rounds run them in reverse). Add one here, with its app in
 * `apps.ts` if none fits, and a target in `TARGETS` if it has one.
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
];

/** A ratio of two scenarios' req/s that must reach `min`. */
export interface Target {
  numerator: string;
  denominator: string;
  min: number;
  label: string;
}

export const TARGETS: Target[] = [
  { numerator: 'd', denominator: 'a', min: 1.0, label: 'hit vs uncached baseline string' },
  { numerator: 'd', denominator: 'c', min: 1.0, label: 'hit vs @nestjs/cache-manager hit' },
  { numerator: 'e', denominator: 'b', min: 0.95, label: 'miss within 5% of uncached render' },
];
