/**
 * Output cache benchmark: `npm run bench`.
 *
 * Groups (`BENCH_GROUPS`, e.g. `holes,stores`; default all, in this order), each its own table
 * with ratios to a baseline measured in the same run:
 * - `http`: hits and misses against baselines (uncached string, uncached render, cache-manager);
 * - `holes`: a hit with three donut holes against a hit without, and the uncached render;
 * - `stores`: the hit per store (memory, tiered, Redis, TypeORM on SQLite and PostgreSQL);
 * - `fastlane`: on Express and Fastify, the fast-lane hit and the ordinary hit against Nest's
 *   constant route, a raw `node:http` server and (when `varnishd` is installed) Varnish in front
 *   of the same app; see `fast-lane-apps.ts`;
 * - `invalidation`: timings measured in-process, not HTTP: evicting a tag of 10,000 entries, and
 *   the latency the output cache adds to a TypeORM write;
 * - `availability`: stale-while-revalidate p99 against plain hits, gzip/brotli hits against
 *   identity hits and against the `compression` middleware, 304s, and render collapsing (200
 *   concurrent cold requests, one render); see `availability.ts`;
 * - `stream`: TTFB and TTLB of a hit with a 300 ms hole, not streamed, streamed in order and out
 *   of order (issue 14, streamed holes), measured in-process; see `stream.ts`.
 *
 * Env: BENCH_GROUPS (above), BENCH_DURATION (s, default 10), BENCH_WARMUP (s, default 2),
 * BENCH_CONNECTIONS (50), BENCH_PIPELINING (1), BENCH_ROUNDS (1; medians over rounds, odd
 * rounds in reverse order), BENCH_SCENARIOS (ids to run across the HTTP groups, e.g. `a,d,f`;
 * default all), BENCH_SERVER_ARGS (Node flags for the server processes, e.g.
 * `--cpu-prof --cpu-prof-dir=dist-sample/profiles`); for `invalidation`: BENCH_EVICT_ENTRIES
 * (10000), BENCH_EVICT_REPEATS (5), BENCH_PAGES (1000), BENCH_SAVES (500), BENCH_SAVE_WARMUP
 * (100); for `availability`: BENCH_COLLAPSE_REQUESTS (200), BENCH_COLLAPSE_REPEATS (5) (and
 * `collapse` in BENCH_SCENARIOS selects that part); for `stream`: BENCH_STREAM_REQUESTS (100 per
 * form), BENCH_STREAM_CONCURRENCY (10). Redis and PostgreSQL: REDIS_URL, DATABASE_URL (default the local servers); a row whose
 * server is down shows the error and the rest runs.
 *
 * Results: the tables on stdout and `dist-sample/bench-results.json`.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AppHost } from './app-host.js';
import { type AvailabilityResults, formatAvailability, runAvailability } from './availability.js';
import { PAGE_HTML } from './fixtures.js';
import {
  formatInvalidation,
  type InvalidationOptions,
  type InvalidationResults,
  runInvalidation,
} from './invalidation.js';
import {
  evaluateTargets,
  formatTable,
  formatTargets,
  type ScenarioSummary,
  summarize,
  type TargetResult,
} from './report.js';
import { type RunOptions, runRounds, type ScenarioRun } from './scenario.js';
import { HTTP_GROUPS, type HttpGroup } from './scenarios.js';
import { formatStream, runStream, type StreamResults } from './stream.js';

const OUTPUT = fileURLToPath(new URL('../bench-results.json', import.meta.url));
const GROUP_IDS = [...HTTP_GROUPS.map((g) => g.id), 'invalidation', 'availability', 'stream'];

function envNumber(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0) throw new Error(`${name} must be a number, got ${raw}`);
  return value;
}

function envList(name: string): string[] | undefined {
  const list = process.env[name]
    ?.split(',')
    .map((id) => id.trim())
    .filter(Boolean);
  return list && list.length > 0 ? list : undefined;
}

/** What one HTTP group measured. */
interface HttpGroupResult {
  id: string;
  title: string;
  reference: string;
  scenarios: ScenarioSummary[];
  targets: TargetResult[];
}

/** Runs the scenarios of one group, each app in a server process that lives for the group. */
async function runGroup(
  group: HttpGroup,
  only: string[] | undefined,
  options: RunOptions,
  rounds: number,
  serverArgs: string[],
): Promise<HttpGroupResult | undefined> {
  const scenarios = only ? group.scenarios.filter((s) => only.includes(s.id)) : group.scenarios;
  if (scenarios.length === 0) return undefined;
  console.log(`\n== ${group.title} [${group.id}]`);
  const host = new AppHost(serverArgs);
  let runs: ScenarioRun[];
  try {
    runs = await runRounds(host, scenarios, options, rounds, (run, scenario) =>
      run.error !== undefined
        ? `  round ${run.round} (${scenario.id}) [x] ${run.error}`
        : `  round ${run.round} (${scenario.id}) ${run.reqPerSec.toFixed(0)} req/s, ` +
          `p50 ${run.latency.p50.toFixed(1)} ms, p99 ${run.latency.p99.toFixed(1)} ms` +
          (run.problems.length ? `  [!] ${run.problems.join('; ')}` : ''),
    );
  } finally {
    await host.close();
  }
  const summaries = summarize(scenarios, runs, group.reference);
  const targets = evaluateTargets(group.targets, summaries);
  return {
    id: group.id,
    title: group.title,
    reference: group.reference,
    scenarios: summaries,
    targets,
  };
}

function printGroup(group: HttpGroupResult, note: string | undefined): void {
  console.log(`\n${group.title} [${group.id}]`);
  console.log(formatTable(group.scenarios, group.reference, note));
  if (group.targets.length > 0) {
    console.log(`\nTargets (median req/s ratios):\n${formatTargets(group.targets)}`);
  }
}

async function main(): Promise<void> {
  const options: RunOptions = {
    duration: envNumber('BENCH_DURATION', 10),
    warmup: envNumber('BENCH_WARMUP', 2),
    connections: envNumber('BENCH_CONNECTIONS', 50),
    pipelining: envNumber('BENCH_PIPELINING', 1),
  };
  const invalidationOptions: InvalidationOptions = {
    evictEntries: Math.max(1, Math.floor(envNumber('BENCH_EVICT_ENTRIES', 10_000))),
    evictRepeats: Math.max(1, Math.floor(envNumber('BENCH_EVICT_REPEATS', 5))),
    pages: Math.max(1, Math.floor(envNumber('BENCH_PAGES', 1000))),
    saves: Math.max(1, Math.floor(envNumber('BENCH_SAVES', 500))),
    saveWarmup: Math.floor(envNumber('BENCH_SAVE_WARMUP', 100)),
  };
  const rounds = Math.max(1, Math.floor(envNumber('BENCH_ROUNDS', 1)));
  const only = envList('BENCH_SCENARIOS');
  const groups = envList('BENCH_GROUPS') ?? GROUP_IDS;
  const unknown = groups.filter((g) => !GROUP_IDS.includes(g));
  if (unknown.length > 0) {
    throw new Error(`BENCH_GROUPS: unknown ${unknown.join(', ')} (known: ${GROUP_IDS.join(', ')})`);
  }
  const serverArgs = process.env.BENCH_SERVER_ARGS?.split(/\s+/).filter(Boolean) ?? [];

  const cpus = os.cpus();
  console.log(
    `nestjs-output-cache bench: groups ${groups.join(', ')}; page ${Buffer.byteLength(PAGE_HTML)} bytes, ` +
      `${options.duration}s runs after ${options.warmup}s warm-up, ` +
      `${options.connections} connections, pipelining ${options.pipelining}, ${rounds} round(s)`,
  );
  console.log(`node ${process.version}, ${cpus.length} × ${cpus[0]?.model ?? 'unknown CPU'}`);

  const results: HttpGroupResult[] = [];
  let invalidation: InvalidationResults | { error: string } | undefined;
  let availability: AvailabilityResults | { error: string } | undefined;
  let stream: StreamResults | { error: string } | undefined;
  for (const group of HTTP_GROUPS) {
    if (!groups.includes(group.id)) continue;
    const result = await runGroup(group, only, options, rounds, serverArgs);
    if (result) results.push(result);
  }
  if (groups.includes('invalidation')) {
    console.log('\n== Invalidation [invalidation]');
    try {
      invalidation = await runInvalidation(invalidationOptions, serverArgs);
    } catch (error) {
      invalidation = { error: error instanceof Error ? error.message : String(error) };
    }
  }
  if (groups.includes('availability')) {
    console.log('\n== Availability (issue 6) [availability]');
    try {
      availability = await runAvailability(
        {
          ...options,
          rounds,
          only,
          collapseRequests: Math.max(1, Math.floor(envNumber('BENCH_COLLAPSE_REQUESTS', 200))),
          collapseRepeats: Math.max(1, Math.floor(envNumber('BENCH_COLLAPSE_REPEATS', 5))),
        },
        serverArgs,
      );
    } catch (error) {
      availability = { error: error instanceof Error ? error.message : String(error) };
    }
  }

  if (groups.includes('stream')) {
    console.log('\n== Streamed holes (issue 14) [stream]');
    try {
      stream = await runStream({
        requests: Math.max(1, Math.floor(envNumber('BENCH_STREAM_REQUESTS', 100))),
        concurrency: Math.max(1, Math.floor(envNumber('BENCH_STREAM_CONCURRENCY', 10))),
      });
    } catch (error) {
      stream = { error: error instanceof Error ? error.message : String(error) };
    }
  }

  // All the tables together at the end, after the progress lines.
  for (const result of results) {
    printGroup(result, HTTP_GROUPS.find((g) => g.id === result.id)?.note);
  }
  if (invalidation) {
    console.log('\nInvalidation [invalidation]');
    console.log(
      'error' in invalidation
        ? `[x] the invalidation bench failed: ${invalidation.error}`
        : formatInvalidation(invalidation),
    );
  }
  if (availability) {
    console.log('\nAvailability (issue 6) [availability]');
    console.log(
      'error' in availability
        ? `[x] the availability bench failed: ${availability.error}`
        : formatAvailability(availability),
    );
  }

  if (stream) {
    console.log('\nStreamed holes (issue 14) [stream]');
    console.log(
      'error' in stream ? `[x] the stream bench failed: ${stream.error}` : formatStream(stream),
    );
  }

  const http = results.find((r) => r.id === 'http');
  mkdirSync(dirname(OUTPUT), { recursive: true });
  writeFileSync(
    OUTPUT,
    JSON.stringify(
      {
        date: new Date().toISOString(),
        node: process.version,
        cpus: { count: cpus.length, model: cpus[0]?.model },
        pageBytes: Buffer.byteLength(PAGE_HTML),
        options: { ...options, rounds, groups, invalidation: invalidationOptions },
        // The `http` group at the top level, as before the groups existed.
        reference: http?.reference,
        scenarios: http?.scenarios,
        targets: http?.targets,
        groups: Object.fromEntries(results.map((r) => [r.id, r])),
        invalidation,
        availability,
        stream,
      },
      null,
      2,
    ),
  );
  console.log(`\nResults written to ${OUTPUT}`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
