import http from 'node:http';
import os from 'node:os';
import zlib from 'node:zlib';
import autocannon from 'autocannon';
import type { AppHost, ServerSample } from './app-host.js';
import type { AppName } from './apps.js';

/** What one request of a scenario must get, checked on a probe after the warm-up. */
export interface ProbeExpectation {
  /** Default 200. */
  status?: number;
  /** Response headers by lower-case name: the exact value, or null for "absent". */
  headers?: Record<string, string | null>;
  /** Smallest body, in bytes. */
  minBytes?: number;
  /** Texts the body must contain (e.g. what the holes of a page render). */
  bodyIncludes?: readonly string[];
  /**
   * The exact body once decoded as its `Content-Encoding` says (gzip, br or none): what the
   * client reads, so a wrong or doubled encoding shows.
   */
  decodedBody?: string;
}

/** One thing to measure: an app, the requests to send it and what they must get. */
export interface Scenario {
  /** Short id used in the table, the targets and `BENCH_SCENARIOS` (e.g. `d`). */
  id: string;
  title: string;
  /** The app (of `apps.ts`) the requests go to. */
  app: AppName;
  /**
   * The request path, or a function called once per request for its path (every request a
   * different URL, say). The probe uses it too.
   */
  path: string | (() => string);
  /** Request headers sent with every request (and the probe). */
  headers?: Record<string, string>;
  /** Checked on one request after the warm-up, before measuring. */
  expect?: ProbeExpectation;
  /** What this library's counters must show for the measured requests. */
  cache?: 'hit' | 'miss';
  /** Printed under the table. */
  note?: string;
  /** Runs after each measured run, e.g. to empty a store the scenario filled. */
  after?: (host: AppHost) => Promise<void>;
  /**
   * CPU time (µs) of the server processes the app calls (Redis, PostgreSQL), sampled around the
   * run: reported as its own column and not counted as other load on the machine.
   */
  serviceCpu?: () => number | null;
  /**
   * Counters of the app itself (e.g. how many times a route rendered, from a debug route),
   * sampled right before and after the measured run: their deltas are in `ScenarioRun`.
   */
  appCounters?: (base: string) => Promise<Record<string, number>>;
}

export interface RunOptions {
  /** Measured run, seconds. */
  duration: number;
  /** Warm-up before each measured run, seconds (0: none). */
  warmup: number;
  connections: number;
  pipelining: number;
}

/** This library's counters over the measured run. */
export interface CacheCounts {
  hits: number;
  misses: number;
  stored: number;
  collapsed: number;
  bypassed: number;
  notStored: number;
  /** Stale entries served while one background render refreshed them (grace). */
  stale: number;
  /** Conditional requests answered 304. */
  notModified: number;
}

/** The outcome of one measured run of a scenario. */
export interface ScenarioRun {
  id: string;
  round: number;
  reqPerSec: number;
  latency: { mean: number; p50: number; p90: number; p99: number; max: number };
  requests: number;
  /** Bytes received per response, headers included. */
  bytesPerResponse: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  /** Server process CPU time per response, µs. */
  serverCpuUsPerReq: number;
  /** Server process CPU use over the run, % of one core. */
  serverCpuPct: number;
  /** CPU time of the server's main thread per response, µs (null when unknown). */
  serverMainThreadUsPerReq: number | null;
  /** Share of the run the server spent in GC pauses, %. */
  serverGcPct: number;
  /** Load generator (this process) CPU use over the run, % of one core. */
  clientCpuPct: number;
  /**
   * CPU use of every other process on the machine over the run, % of one core. The apps and the
   * load generator share the machine's cores: when this is high the numbers are not reliable.
   */
  otherCpuPct: number;
  /**
   * CPU use of the scenario's external servers (Redis, PostgreSQL) over the run, % of one core;
   * null when the scenario uses none.
   */
  serviceCpuPct: number | null;
  /** Their CPU time per response, µs; null when the scenario uses none. */
  serviceCpuUsPerReq: number | null;
  /** Server process RSS after the run, MiB. */
  serverRssMiB: number;
  cache: CacheCounts | null;
  /** Deltas of `Scenario.appCounters` over the measured run, when the scenario has them. */
  appCounters?: Record<string, number>;
  /** What went wrong (failed probe, errors, unexpected cache outcome); empty when all is well. */
  problems: string[];
  /** Set when the scenario could not run at all (e.g. its store's server is down). */
  error?: string;
}

/**
 * Runs one scenario: warm-up, probe (checked against `expect`), then the measured autocannon
 * run, with the server's CPU time and the library's counters sampled around it.
 */
export async function runScenario(
  host: AppHost,
  scenario: Scenario,
  options: RunOptions,
  round: number,
): Promise<ScenarioRun> {
  const base = await host.url(scenario.app);
  const problems: string[] = [];

  if (options.warmup > 0) {
    const warm = await cannon(base, scenario, options, options.warmup);
    const unexpected = unexpectedStatuses(warm, scenario.expect?.status);
    if (warm.errors > 0 || unexpected > 0) {
      problems.push(`warm-up: ${warm.errors} errors, ${unexpected} ${statusWord(scenario)}`);
    }
  }

  const probed = await probe(base, pathOf(scenario), scenario.headers);
  problems.push(...checkProbe(probed, scenario.expect));

  await host.gc(scenario.app);
  const before = await host.sample(scenario.app);
  const serviceBefore = scenario.serviceCpu?.() ?? null;
  const countersBefore = await scenario.appCounters?.(base);
  const clientBefore = process.cpuUsage();
  const machineBefore = machineBusyMicros();
  const result = await cannon(base, scenario, options, options.duration);
  const machine = machineBusyMicros() - machineBefore;
  const client = process.cpuUsage(clientBefore);
  const serviceAfter = scenario.serviceCpu?.() ?? null;
  const after = await host.sample(scenario.app);
  const countersAfter = await scenario.appCounters?.(base);
  const appCounters =
    countersBefore && countersAfter
      ? Object.fromEntries(
          Object.entries(countersAfter).map(([name, value]) => [
            name,
            value - (countersBefore[name] ?? 0),
          ]),
        )
      : undefined;

  const seconds = result.duration;
  const requests = result.requests.total;
  const serverCpu = cpuMicros(after) - cpuMicros(before);
  const serviceCpu =
    serviceBefore === null || serviceAfter === null ? null : serviceAfter - serviceBefore;
  const cache = cacheDelta(before, after);
  const otherCpuPct =
    ((machine - serverCpu - client.user - client.system - (serviceCpu ?? 0)) / (seconds * 1e6)) *
    100;
  if (otherCpuPct > OTHER_CPU_WARNING) {
    problems.push(`other processes used ${otherCpuPct.toFixed(0)}% of a core: noisy`);
  }
  if (result.errors > 0) problems.push(`${result.errors} errors (${result.timeouts} timeouts)`);
  const unexpected = unexpectedStatuses(result, scenario.expect?.status);
  if (unexpected > 0) problems.push(`${unexpected} ${statusWord(scenario)} responses`);
  if (requests === 0) problems.push('no responses');
  // Requests still in flight when autocannon stops may be counted as misses but not yet stored.
  problems.push(...checkCache(scenario.cache, cache, options.connections * options.pipelining));

  await scenario.after?.(host);

  return {
    id: scenario.id,
    round,
    reqPerSec: requests / seconds,
    latency: {
      mean: result.latency.mean,
      p50: result.latency.p50,
      p90: result.latency.p90,
      p99: result.latency.p99,
      max: result.latency.max,
    },
    requests,
    bytesPerResponse: requests > 0 ? result.throughput.total / requests : 0,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    serverCpuUsPerReq: requests > 0 ? serverCpu / requests : 0,
    serverCpuPct: (serverCpu / (seconds * 1e6)) * 100,
    serverMainThreadUsPerReq:
      before.mainThreadCpu === null || after.mainThreadCpu === null || requests === 0
        ? null
        : (after.mainThreadCpu - before.mainThreadCpu) / requests,
    serverGcPct: ((after.gcMs - before.gcMs) / (seconds * 1000)) * 100,
    clientCpuPct: ((client.user + client.system) / (seconds * 1e6)) * 100,
    otherCpuPct,
    serviceCpuPct: serviceCpu === null ? null : (serviceCpu / (seconds * 1e6)) * 100,
    serviceCpuUsPerReq: serviceCpu === null || requests === 0 ? null : serviceCpu / requests,
    serverRssMiB: after.rss / 1024 / 1024,
    cache,
    ...(appCounters ? { appCounters } : {}),
    problems,
  };
}

/**
 * Responses without the expected status: non-2xx ones, or, when a scenario expects another
 * status (a 304, say), every response without it.
 */
function unexpectedStatuses(result: autocannon.Result, status: number | undefined): number {
  if (status === undefined || (status >= 200 && status < 300)) return result.non2xx;
  const got = result.statusCodeStats?.[`${status}`]?.count ?? 0;
  return result.requests.total - got;
}

function statusWord(scenario: Scenario): string {
  const status = scenario.expect?.status;
  return status === undefined || (status >= 200 && status < 300) ? 'non-2xx' : `non-${status}`;
}

/** The outcome of a scenario that could not run: every number NaN, and the error. */
/**
 * Runs scenarios for `rounds` rounds (odd rounds in order, even ones reversed, so that warm-up
 * order does not favour one scenario), a failed run recorded as such; `progress` reports each.
 */
export async function runRounds(
  host: AppHost,
  scenarios: Scenario[],
  options: RunOptions,
  rounds: number,
  progress: (run: ScenarioRun, scenario: Scenario) => string,
): Promise<ScenarioRun[]> {
  const runs: ScenarioRun[] = [];
  for (let round = 1; round <= rounds; round++) {
    const order = round % 2 === 1 ? scenarios : [...scenarios].reverse();
    for (const scenario of order) {
      let run: ScenarioRun;
      try {
        run = await runScenario(host, scenario, options, round);
      } catch (error) {
        run = failedRun(scenario, round, error);
      }
      runs.push(run);
      console.log(progress(run, scenario));
    }
  }
  return runs;
}

export function failedRun(scenario: Scenario, round: number, error: unknown): ScenarioRun {
  // Errors from the server process carry their stack: the first line says what happened.
  const text = error instanceof Error ? error.message : String(error);
  const message = text.split('\n')[0].replace(/^Error: /, '');
  return {
    id: scenario.id,
    round,
    reqPerSec: NaN,
    latency: { mean: NaN, p50: NaN, p90: NaN, p99: NaN, max: NaN },
    requests: 0,
    bytesPerResponse: NaN,
    non2xx: 0,
    errors: 0,
    timeouts: 0,
    serverCpuUsPerReq: NaN,
    serverCpuPct: NaN,
    serverMainThreadUsPerReq: null,
    serverGcPct: NaN,
    clientCpuPct: NaN,
    otherCpuPct: NaN,
    serviceCpuPct: null,
    serviceCpuUsPerReq: null,
    serverRssMiB: NaN,
    cache: null,
    problems: [],
    error: message,
  };
}

/** Above this CPU use of other processes (% of one core) a run is flagged as noisy. */
const OTHER_CPU_WARNING = 20;

/** CPU time all cores spent busy since boot, µs (with 10 ms resolution). */
function machineBusyMicros(): number {
  let ms = 0;
  for (const { times } of os.cpus()) ms += times.user + times.nice + times.sys + times.irq;
  return ms * 1000;
}

function pathOf(scenario: Scenario): string {
  return typeof scenario.path === 'string' ? scenario.path : scenario.path();
}

function cannon(
  base: string,
  scenario: Scenario,
  options: RunOptions,
  duration: number,
): Promise<autocannon.Result> {
  const { path } = scenario;
  return autocannon({
    url: base + (typeof path === 'string' ? path : '/'),
    connections: options.connections,
    pipelining: options.pipelining,
    duration,
    headers: scenario.headers,
    requests:
      typeof path === 'string'
        ? undefined
        : [{ setupRequest: (req) => ({ ...req, path: path() }) }],
  });
}

export interface ProbeResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  bytes: number;
  body: string;
  /** The body as received (not decoded). */
  raw: Buffer;
}

/** One GET on its own connection. */
export function probe(
  base: string,
  path: string,
  headers: Record<string, string> = {},
): Promise<ProbeResponse> {
  return new Promise((resolve, reject) => {
    const req = http.get(base + path, { agent: false, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        const body = Buffer.concat(chunks);
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          bytes: body.length,
          body: body.toString('utf8'),
          raw: body,
        });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.setTimeout(10_000, () => req.destroy(new Error(`probe ${path} timed out`)));
  });
}

function checkProbe(res: ProbeResponse, expect: ProbeExpectation = {}): string[] {
  const problems: string[] = [];
  const status = expect.status ?? 200;
  if (res.status !== status) problems.push(`probe: status ${res.status}, expected ${status}`);
  for (const [name, value] of Object.entries(expect.headers ?? {})) {
    const got = res.headers[name.toLowerCase()];
    const actual = Array.isArray(got) ? got.join(', ') : got;
    if (value === null ? actual !== undefined : actual !== value) {
      problems.push(`probe: ${name} is ${actual ?? '(absent)'}, expected ${value ?? '(absent)'}`);
    }
  }
  if (expect.minBytes !== undefined && res.bytes < expect.minBytes) {
    problems.push(`probe: body of ${res.bytes} bytes, expected at least ${expect.minBytes}`);
  }
  for (const text of expect.bodyIncludes ?? []) {
    if (!res.body.includes(text)) problems.push(`probe: body lacks ${JSON.stringify(text)}`);
  }
  if (expect.decodedBody !== undefined) {
    const coding = String(res.headers['content-encoding'] ?? 'identity');
    let decoded: string | undefined;
    try {
      decoded = decodeBody(res.raw, coding).toString('utf8');
    } catch (error) {
      problems.push(`probe: a ${coding} body that does not decode (${String(error)})`);
    }
    if (decoded !== undefined && decoded !== expect.decodedBody) {
      problems.push(
        `probe: ${coding} body decodes to ${Buffer.byteLength(decoded)} bytes that differ ` +
          `from the expected ${Buffer.byteLength(expect.decodedBody)}`,
      );
    }
  }
  return problems;
}

/** A body decoded as its `Content-Encoding` says; throws on an unknown or broken encoding. */
export function decodeBody(raw: Buffer, coding: string): Buffer {
  switch (coding.trim().toLowerCase()) {
    case 'identity':
    case '':
      return raw;
    case 'gzip':
      return zlib.gunzipSync(raw);
    case 'br':
      return zlib.brotliDecompressSync(raw);
    case 'deflate':
      return zlib.inflateSync(raw);
    default:
      throw new Error(`unknown Content-Encoding ${coding}`);
  }
}

function cpuMicros(sample: ServerSample): number {
  return sample.cpu.user + sample.cpu.system;
}

function sum(record: Record<string, number>): number {
  return Object.values(record).reduce((a, b) => a + b, 0);
}

function cacheDelta(before: ServerSample, after: ServerSample): CacheCounts | null {
  const a = before.stats;
  const b = after.stats;
  if (!a || !b) return null;
  return {
    hits: b.hits - a.hits,
    misses: b.misses - a.misses,
    stored: b.stored - a.stored,
    collapsed: b.collapsed - a.collapsed,
    bypassed: sum(b.bypassed) - sum(a.bypassed),
    notStored: sum(b.notStored) - sum(a.notStored),
    stale: b.stale - a.stale,
    notModified: b.notModified - a.notModified,
  };
}

/** Whether (almost) every measured request was the expected hit or miss. */
function checkCache(
  expected: Scenario['cache'],
  cache: CacheCounts | null,
  inFlight: number,
): string[] {
  if (!expected) return [];
  if (!cache) return [`expected cache ${expected}s but the app has no OutputCacheStats`];
  const total = cache.hits + cache.misses + cache.bypassed;
  const share = total > 0 ? (expected === 'hit' ? cache.hits : cache.misses) / total : 0;
  const problems: string[] = [];
  if (share < 0.99) {
    problems.push(
      `expected ${expected}s: ${cache.hits} hits, ${cache.misses} misses, ${cache.bypassed} bypassed`,
    );
  }
  if (expected === 'miss' && cache.stored + cache.notStored + inFlight < cache.misses) {
    problems.push(`misses not stored: ${cache.misses} misses, ${cache.stored} stored`);
  }
  return problems;
}
