/**
 * The availability group (issue 6), each part against a baseline measured in the same run:
 * - stale-while-revalidate: hits of a page with a 1 s TTL, 60 s grace and a 500 ms render,
 *   going stale every second under load, against plain hits of the same page (long TTL);
 * - precompressed hits: gzip and brotli hits against identity hits, and against the uncached
 *   page behind the `compression` middleware;
 * - 304s: `If-None-Match` with the page's ETag against identity hits;
 * - collapse: concurrent cold requests to one key (not autocannon): how many renders.
 *
 * The apps (`availability`, `compression` in `apps.ts`) run in server processes of an
 * {@link AppHost}; the HTTP parts use the scenario runner of the other groups.
 */
import { performance } from 'node:perf_hooks';
import { AppHost } from './app-host.js';
import { AVAILABILITY, PAGE_HTML } from './fixtures.js';
import { table } from './invalidation.js';
import { formatTable, median, type ScenarioSummary, summarize } from './report.js';
import { probe, type RunOptions, runRounds, type Scenario, type ScenarioRun } from './scenario.js';

export interface AvailabilityOptions extends RunOptions {
  rounds: number;
  /** Scenario ids to run (`collapse` for the collapse part); undefined: all. */
  only: string[] | undefined;
  /** Concurrent requests per collapse repeat. */
  collapseRequests: number;
  /** Collapse repeats, each with a fresh key. */
  collapseRepeats: number;
}

/** One target: what was measured, the goal, and the verdict (undefined: reported only). */
export interface AvailabilityTarget {
  id: string;
  label: string;
  /** The measured value as printed. */
  value: string;
  /** The goal as printed, `(reported)` when there is none. */
  goal: string;
  pass: boolean | undefined;
  /** False when a scenario it needs did not run or failed. */
  measured: boolean;
  /** The numbers behind it. */
  numbers: Record<string, number>;
}

/** One repeat of the collapse part: `requests` concurrent GETs of one cold key. */
export interface CollapseRun {
  key: string;
  requests: number;
  /** Times the route's handler ran for the key (the app's own counter). */
  renders: number;
  /** The library's counters over the repeat. */
  misses: number;
  collapsed: number;
  hits: number;
  /** Responses that were 200 with exactly the page. */
  ok: number;
  /** `X-Cache` values of the responses. */
  xCache: Record<string, number>;
  /** Latency of each request from its dispatch to its last byte, ms. */
  latencyMs: { min: number; p50: number; p90: number; max: number };
  /** From the first dispatch to the last response, ms. */
  wallMs: number;
  problems: string[];
}

export interface AvailabilityResults {
  reference: string;
  /** The identity ETag of the page, sent as `If-None-Match` by the 304 scenario. */
  etag: string | undefined;
  scenarios: ScenarioSummary[];
  swr: {
    ttlSeconds: number;
    graceSeconds: number;
    renderMs: number;
    /** Per round of the `swr` scenario: renders of the route, stale hits, all responses. */
    rounds: { renders: number; stale: number; misses: number; responses: number }[];
    /** The most renders one measured run may have (one per stale period). */
    maxRenders: number;
    /** The fewest: one refresh at least once the run is longer than a period. */
    minRenders: number;
  };
  collapse:
    { requests: number; renderMs: number; runs: CollapseRun[] } | { error: string } | undefined;
  targets: AvailabilityTarget[];
  problems: string[];
}

const REFERENCE = 'hit';
const IDENTITY = { 'accept-encoding': 'identity' };

/** SWR p99 may be at most the hit's p99 × this + {@link SWR_P99_SLACK_MS}. */
const SWR_P99_FACTOR = 1.5;
const SWR_P99_SLACK_MS = 5;
/** Precompressed (gzip, br) hits: at least this share of identity hits' req/s. */
const PRECOMPRESSED_MIN = 0.9;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

async function getJson(url: string): Promise<Record<string, number>> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`GET ${url}: ${res.status}`);
  return (await res.json()) as Record<string, number>;
}

/** The render counters of the availability app (a debug route, not cached). */
const renderCounters = (base: string) => getJson(`${base}/av/renders`);

function scenarios(etag: string | undefined): Scenario[] {
  const page = { minBytes: 1, decodedBody: PAGE_HTML };
  return [
    {
      id: 'hit',
      title: 'identity hit: @Cacheable() @Render() page, Accept-Encoding: identity',
      app: 'availability',
      path: '/av/page',
      headers: IDENTITY,
      expect: { ...page, headers: { 'x-cache': 'HIT', 'content-encoding': null } },
      cache: 'hit',
    },
    {
      id: 'gzip',
      title: 'gzip hit: the same page, Accept-Encoding: gzip (precompressed variant)',
      app: 'availability',
      path: '/av/page',
      headers: { 'accept-encoding': 'gzip' },
      expect: { ...page, headers: { 'x-cache': 'HIT', 'content-encoding': 'gzip' } },
      cache: 'hit',
    },
    {
      id: 'br',
      title: 'brotli hit: the same page, Accept-Encoding: br (precompressed variant)',
      app: 'availability',
      path: '/av/page',
      headers: { 'accept-encoding': 'br' },
      expect: { ...page, headers: { 'x-cache': 'HIT', 'content-encoding': 'br' } },
      cache: 'hit',
    },
    {
      id: '304',
      title: '304: the same page, If-None-Match: <its ETag>',
      app: 'availability',
      path: '/av/page',
      headers: { ...IDENTITY, 'if-none-match': etag ?? '"no-etag-on-the-hit"' },
      expect: { status: 304, headers: { etag: etag ?? '(an ETag)', 'x-cache': 'HIT' } },
      cache: 'hit',
    },
    {
      id: 'swr',
      title:
        `stale-while-revalidate: TTL ${AVAILABILITY.swrTtl} s, grace ${AVAILABILITY.swrGrace} s, ` +
        `${AVAILABILITY.swrRenderMs} ms render`,
      app: 'availability',
      path: '/av/swr',
      headers: IDENTITY,
      // HIT or STALE, whichever the moment gives.
      expect: { ...page, headers: { 'content-encoding': null } },
      cache: 'hit',
      appCounters: renderCounters,
      note:
        'the entry goes stale every second under load; a stale hit answers at once and one ' +
        'background render (an in-process request) refreshes it.',
    },
    {
      id: 'mw',
      title: 'uncached string page behind compression(), Accept-Encoding: gzip',
      app: 'compression',
      path: '/baseline',
      headers: { 'accept-encoding': 'gzip' },
      expect: { ...page, headers: { 'x-cache': null, 'content-encoding': 'gzip' } },
      note:
        'the page as a constant string (no render), gzipped per response by the compression ' +
        'middleware (level 6, its default), in an app of its own.',
    },
    {
      id: 'mw-hit',
      title: 'gzip hit behind compression() (the entry carries its own encoding)',
      app: 'compression',
      path: '/av/page',
      headers: { 'accept-encoding': 'gzip' },
      expect: { ...page, headers: { 'x-cache': 'HIT', 'content-encoding': 'gzip' } },
      cache: 'hit',
    },
  ];
}

function progress(run: ScenarioRun, id: string): string {
  const head = `  round ${run.round} (${id})`;
  if (run.error !== undefined) return `${head} [x] ${run.error}`;
  const counters = run.appCounters
    ? `, renders ${JSON.stringify(run.appCounters)}, stale ${run.cache?.stale ?? '-'}`
    : '';
  return (
    `${head} ${run.reqPerSec.toFixed(0)} req/s, p50 ${run.latency.p50.toFixed(1)} ms, ` +
    `p99 ${run.latency.p99.toFixed(1)} ms${counters}` +
    (run.problems.length ? `  [!] ${run.problems.join('; ')}` : '')
  );
}

/** Runs the group; the apps live in server processes of their own until it ends. */
export async function runAvailability(
  options: AvailabilityOptions,
  serverArgs: string[],
): Promise<AvailabilityResults> {
  const host = new AppHost(serverArgs);
  const problems: string[] = [];
  try {
    // The page's ETag: requested once more after its variants had time to be stored.
    const base = await host.url('availability');
    await probe(base, '/av/page', IDENTITY);
    await sleep(100);
    const first = await probe(base, '/av/page', IDENTITY);
    const etag = typeof first.headers.etag === 'string' ? first.headers.etag : undefined;
    if (!etag) problems.push('the identity hit of /av/page carries no ETag');

    const all = scenarios(etag);
    const chosen = options.only ? all.filter((s) => options.only!.includes(s.id)) : all;
    const runs = await runRounds(host, chosen, options, options.rounds, (run, scenario) =>
      progress(run, scenario.id),
    );
    const summaries = summarize(chosen, runs, REFERENCE);

    let collapse: AvailabilityResults['collapse'];
    if (!options.only || options.only.includes('collapse')) {
      try {
        const collapseRuns = await runCollapse(
          host,
          options.collapseRequests,
          options.collapseRepeats,
        );
        collapse = {
          requests: options.collapseRequests,
          renderMs: AVAILABILITY.collapseRenderMs,
          runs: collapseRuns,
        };
      } catch (error) {
        collapse = { error: error instanceof Error ? error.message : String(error) };
        console.log(`  collapse [x] ${collapse.error}`);
      }
    }

    const swrRuns = runs.filter((r) => r.id === 'swr' && r.error === undefined);
    const period = AVAILABILITY.swrTtl + AVAILABILITY.swrRenderMs / 1000;
    const swr: AvailabilityResults['swr'] = {
      ttlSeconds: AVAILABILITY.swrTtl,
      graceSeconds: AVAILABILITY.swrGrace,
      renderMs: AVAILABILITY.swrRenderMs,
      rounds: swrRuns.map((r) => ({
        renders: r.appCounters?.swr ?? NaN,
        stale: r.cache?.stale ?? NaN,
        misses: r.cache?.misses ?? NaN,
        responses: r.requests,
      })),
      // At most one render per TTL (a refresh only starts once the entry is stale), plus one
      // under way when the run started.
      maxRenders: Math.ceil(options.duration / AVAILABILITY.swrTtl) + 1,
      // A refresh takes the render time, then the entry is fresh for the TTL: any run longer
      // than that plus a margin sees one.
      minRenders: options.duration >= period + 0.5 ? 1 : 0,
    };
    return {
      reference: REFERENCE,
      etag,
      scenarios: summaries,
      swr,
      collapse,
      targets: evaluate(summaries, swr, collapse),
      problems,
    };
  } finally {
    await host.close();
  }
}

/** The n-th percentile (nearest rank) of sorted values. */
function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

interface TimedResponse {
  ms: number;
  status: number;
  xCache: string;
  page: boolean;
}

const PAGE_BUFFER = Buffer.from(PAGE_HTML);

async function timedGet(url: string): Promise<TimedResponse> {
  const start = performance.now();
  const res = await fetch(url, { headers: IDENTITY });
  const body = Buffer.from(await res.arrayBuffer());
  return {
    ms: performance.now() - start,
    status: res.status,
    xCache: res.headers.get('x-cache') ?? '(none)',
    page: res.status === 200 && body.equals(PAGE_BUFFER),
  };
}

/**
 * `requests` concurrent GETs (fetch, all dispatched at once) of a key nobody requested yet,
 * whose render takes 200 ms, `repeats` times with fresh keys: one render each is the goal.
 */
async function runCollapse(
  host: AppHost,
  requests: number,
  repeats: number,
): Promise<CollapseRun[]> {
  const base = await host.url('availability');
  // Open the client's connections first (on the uncached debug route), so that the timings are
  // the server's, not TCP handshakes.
  await Promise.all(
    Array.from({ length: requests }, () => fetch(`${base}/av/renders`).then((r) => r.text())),
  );
  const out: CollapseRun[] = [];
  const stamp = Date.now().toString(36);
  for (let i = 1; i <= repeats; i++) {
    const key = `${stamp}-${i}`;
    const url = `${base}/av/slow?k=${key}`;
    const before = await host.sample('availability');
    const start = performance.now();
    const responses = await Promise.all(Array.from({ length: requests }, () => timedGet(url)));
    const wallMs = performance.now() - start;
    const after = await host.sample('availability');
    const renders = (await getJson(`${base}/av/renders?k=${encodeURIComponent(key)}`)).key;
    const sorted = responses.map((r) => r.ms).sort((a, b) => a - b);
    const xCache: Record<string, number> = {};
    for (const r of responses) xCache[r.xCache] = (xCache[r.xCache] ?? 0) + 1;
    const ok = responses.filter((r) => r.page).length;
    const run: CollapseRun = {
      key,
      requests,
      renders,
      misses: (after.stats?.misses ?? NaN) - (before.stats?.misses ?? NaN),
      collapsed: (after.stats?.collapsed ?? NaN) - (before.stats?.collapsed ?? NaN),
      hits: (after.stats?.hits ?? NaN) - (before.stats?.hits ?? NaN),
      ok,
      xCache,
      latencyMs: {
        min: sorted[0],
        p50: percentile(sorted, 50),
        p90: percentile(sorted, 90),
        max: sorted[sorted.length - 1],
      },
      wallMs,
      problems: [],
    };
    if (renders !== 1) run.problems.push(`${renders} renders of one key, expected 1`);
    if (ok !== requests) {
      const statuses = [...new Set(responses.map((r) => r.status))].join(', ');
      run.problems.push(`${requests - ok} responses without the page (statuses ${statuses})`);
    }
    out.push(run);
    console.log(
      `  collapse ${i}/${repeats}: ${requests} requests, ${renders} render(s), ` +
        `p50 ${run.latencyMs.p50.toFixed(1)} ms, max ${run.latencyMs.max.toFixed(1)} ms, ` +
        `X-Cache ${JSON.stringify(xCache)}` +
        (run.problems.length ? `  [!] ${run.problems.join('; ')}` : ''),
    );
  }
  return out;
}

const fmt = (value: number, digits = 1) => (Number.isFinite(value) ? value.toFixed(digits) : '-');

function evaluate(
  summaries: ScenarioSummary[],
  swr: AvailabilityResults['swr'],
  collapse: AvailabilityResults['collapse'],
): AvailabilityTarget[] {
  const find = (id: string) => {
    const s = summaries.find((x) => x.id === id);
    return s && !s.error && Number.isFinite(s.reqPerSec) ? s : undefined;
  };
  const targets: AvailabilityTarget[] = [];
  const hit = find(REFERENCE);

  /** A ratio of req/s (and of CPU per response, alongside). */
  const ratio = (id: string, num: string, den: string, label: string, min?: number) => {
    const a = find(num);
    const b = find(den);
    if (!a || !b) {
      targets.push({
        id,
        label,
        value: 'n/a',
        goal: min === undefined ? '(reported)' : `≥ ${min.toFixed(2)}`,
        pass: undefined,
        measured: false,
        numbers: {},
      });
      return;
    }
    const value = a.reqPerSec / b.reqPerSec;
    const cpu = b.serverCpuUsPerReq / a.serverCpuUsPerReq;
    targets.push({
      id,
      label,
      value: `(${num})/(${den}) = ${value.toFixed(3)} (by CPU/req: ${cpu.toFixed(3)})`,
      goal: min === undefined ? '(reported)' : `≥ ${min.toFixed(2)}`,
      pass: min === undefined ? undefined : value >= min,
      measured: true,
      numbers: { ratio: value, cpuRatio: cpu, numerator: a.reqPerSec, denominator: b.reqPerSec },
    });
  };

  // 1. Stale-while-revalidate.
  const s = find('swr');
  if (s && hit) {
    const limit = hit.p99 * SWR_P99_FACTOR + SWR_P99_SLACK_MS;
    targets.push({
      id: 'swr-p99',
      label: 'SWR p99 at hit level',
      value: `p99 ${fmt(s.p99)} ms (hit p99 ${fmt(hit.p99)} ms)`,
      goal: `≤ ${fmt(limit)} ms (hit p99 × ${SWR_P99_FACTOR} + ${SWR_P99_SLACK_MS} ms)`,
      pass: s.p99 <= limit,
      measured: true,
      numbers: { swrP99: s.p99, hitP99: hit.p99, limit },
    });
  } else {
    targets.push({
      id: 'swr-p99',
      label: 'SWR p99 at hit level',
      value: 'n/a',
      goal: `≤ hit p99 × ${SWR_P99_FACTOR} + ${SWR_P99_SLACK_MS} ms`,
      pass: undefined,
      measured: false,
      numbers: {},
    });
  }
  const renders = swr.rounds.map((r) => r.renders);
  const rendersOk =
    renders.length > 0 &&
    renders.every((n) => Number.isFinite(n) && n >= swr.minRenders && n <= swr.maxRenders);
  targets.push({
    id: 'swr-renders',
    label: 'SWR: one background render per stale period, no stampede',
    value:
      renders.length === 0
        ? 'n/a'
        : `renders ${renders.join(', ')} per run; ` +
          `stale hits ${swr.rounds.map((r) => r.stale).join(', ')} of ` +
          `${swr.rounds.map((r) => r.responses).join(', ')} responses`,
    goal: `${swr.minRenders} ≤ renders ≤ ${swr.maxRenders} per run`,
    pass: renders.length === 0 ? undefined : rendersOk,
    measured: renders.length > 0,
    numbers: { renders: median(renders), min: swr.minRenders, max: swr.maxRenders },
  });
  ratio('swr-rps', 'swr', REFERENCE, 'SWR req/s vs identity hit');

  // 2. Precompressed hits.
  ratio('gzip', 'gzip', REFERENCE, 'gzip hit vs identity hit', PRECOMPRESSED_MIN);
  ratio('br', 'br', REFERENCE, 'brotli hit vs identity hit', PRECOMPRESSED_MIN);
  ratio('gzip-vs-mw', 'gzip', 'mw', 'gzip hit vs uncached page behind compression()');
  ratio('mw-hit-vs-mw', 'mw-hit', 'mw', 'gzip hit behind compression() vs uncached behind it');

  // 3. 304s.
  ratio('304', '304', REFERENCE, '304 vs identity hit');

  // 4. Collapse.
  if (collapse && 'runs' in collapse && collapse.runs.length > 0) {
    const counts = collapse.runs.map((r) => r.renders);
    targets.push({
      id: 'collapse',
      label: `collapse: ${collapse.requests} concurrent cold requests, one render`,
      value: `renders ${counts.join(', ')}`,
      goal: '== 1 in every repeat',
      pass: counts.every((n) => n === 1),
      measured: true,
      numbers: { maxRenders: Math.max(...counts) },
    });
  } else {
    targets.push({
      id: 'collapse',
      label: 'collapse: concurrent cold requests, one render',
      value: 'n/a',
      goal: '== 1 in every repeat',
      pass: undefined,
      measured: false,
      numbers: {},
    });
  }
  return targets;
}

/** The scenario table, the SWR and collapse details, and the targets. */
export function formatAvailability(results: AvailabilityResults): string {
  const out: string[] = [];
  if (results.scenarios.length > 0) {
    out.push(formatTable(results.scenarios, results.reference));
  }
  const { swr } = results;
  if (swr.rounds.length > 0) {
    out.push(
      `  (swr) per run: ${swr.rounds
        .map(
          (r) =>
            `${r.renders} renders (${r.misses} misses), ${r.stale} stale of ${r.responses} ` +
            `responses`,
        )
        .join('; ')}`,
    );
  }
  for (const p of results.problems) out.push(`  [!] ${p}`);

  const collapse = results.collapse;
  if (collapse && 'error' in collapse) {
    out.push('', `Collapse: [x] ${collapse.error}`);
  } else if (collapse) {
    out.push(
      '',
      `Collapse: ${collapse.requests} concurrent GETs (fetch) of a cold key whose render takes ` +
        `${collapse.renderMs} ms, ${collapse.runs.length} fresh keys`,
    );
    out.push(
      table(
        [
          'repeat',
          'renders',
          'misses',
          'collapsed',
          'hits',
          '200 + page',
          'p50 ms',
          'p90 ms',
          'max ms',
          'wall ms',
          'X-Cache',
        ],
        collapse.runs.map((r, i) => [
          String(i + 1),
          String(r.renders),
          String(r.misses),
          String(r.collapsed),
          String(r.hits),
          `${r.ok}/${r.requests}`,
          fmt(r.latencyMs.p50),
          fmt(r.latencyMs.p90),
          fmt(r.latencyMs.max),
          fmt(r.wallMs),
          Object.entries(r.xCache)
            .map(([k, v]) => `${k} ${v}`)
            .join(', '),
        ]),
      ),
    );
    out.push(
      '  collapsed: waited for the render under way and got its entry; hits: came after it ' +
        'was stored (or collapsed: both count as hits).',
    );
    collapse.runs.forEach((r, i) => {
      for (const p of r.problems) out.push(`  [!] repeat ${i + 1}: ${p}`);
    });
  }

  out.push('', 'Targets:');
  for (const t of results.targets) {
    const verdict = !t.measured ? 'SKIP' : t.pass === undefined ? 'INFO' : t.pass ? 'PASS' : 'FAIL';
    out.push(`${verdict}  ${t.label}: ${t.value}; target ${t.goal}`);
  }
  return out.join('\n');
}
