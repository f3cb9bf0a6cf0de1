/**
 * The invalidation group: timings measured in-process rather than HTTP throughput. The work runs
 * in a child process of its own (`invalidation-child.ts`); this module starts it and formats
 * what it reports.
 */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { median } from './report.js';

export interface InvalidationOptions {
  /** Entries sharing the evicted tag. */
  evictEntries: number;
  /** Fill-and-evict repeats per store. */
  evictRepeats: number;
  /** Product pages cached while the writes are timed. */
  pages: number;
  /** Timed saves per setup. */
  saves: number;
  /** Untimed saves per setup first. */
  saveWarmup: number;
}

/** Evicting one tag shared by `entries` entries in one store, `timesMs.length` times. */
export interface EvictionResult {
  label: string;
  entries: number;
  timesMs: number[];
  removed: number[];
  /** How long each fill took (not measured as such: context for the reader). */
  fillMs: number[];
  problems: string[];
  /** Set when the store could not be measured (its server is down). */
  error?: string;
}

export interface LatencyStats {
  count: number;
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

/** Timed `repository.save()` calls of one setup. */
export interface WriteResult {
  label: string;
  pagesCached: number;
  latencyMs: LatencyStats;
  /** Latency added to the setup without the module (A), at p50 and p99. */
  addedMs?: { p50: number; p99: number };
  /** Cached pages that each save evicted, on average. */
  evictedPerSave: number;
  problems: string[];
}

export interface WriteLatencyResult {
  pages: number;
  saves: number;
  results: WriteResult[];
}

export interface InvalidationResults {
  eviction: EvictionResult[];
  writes: WriteLatencyResult | { error: string };
}

export type InvalidationChildMessage =
  { ok: true; result: InvalidationResults } | { ok: false; error: string };

/** Runs the measurements in a child process (with `--expose-gc`) and resolves what it found. */
export function runInvalidation(
  options: InvalidationOptions,
  execArgv: string[] = [],
): Promise<InvalidationResults> {
  const entry = fileURLToPath(new URL('./invalidation-child.js', import.meta.url));
  const child = fork(entry, [], {
    execArgv: [...process.execArgv, '--expose-gc', ...execArgv],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  return new Promise((resolve, reject) => {
    let settled = false;
    child.once('message', (message: InvalidationChildMessage) => {
      settled = true;
      if (message.ok) resolve(message.result);
      else reject(new Error(message.error));
    });
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      if (!settled) reject(new Error(`invalidation bench exited (code ${code}, signal ${signal})`));
    });
    child.send({ options });
  });
}

const ms = (value: number) => (Number.isFinite(value) ? value.toFixed(value < 10 ? 3 : 1) : '-');

/** Renders rows as a Markdown-style table, the first column left-aligned. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) =>
    '| ' +
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(' | ') +
    ' |';
  return [
    line(header),
    '|' + widths.map((w) => '-'.repeat(w + 2)).join('|') + '|',
    ...rows.map(line),
  ].join('\n');
}

/** The two tables of the group, with their problems under each. */
export function formatInvalidation(results: InvalidationResults): string {
  const out: string[] = [];
  const entries = results.eviction[0]?.entries ?? 0;
  const repeats = Math.max(0, ...results.eviction.map((r) => r.timesMs.length));
  out.push(
    `Invalidation (i): evicting one tag shared by ${entries} entries (~2 KB each, 3 tags), ` +
      `${repeats} repeats, refilled before each`,
  );
  out.push(
    table(
      ['store / call', 'median ms', 'min ms', 'max ms', 'removed', 'fill s (median)'],
      results.eviction.map((r) =>
        r.error
          ? [r.label, 'error', '-', '-', '-', '-']
          : [
              r.label,
              ms(median(r.timesMs)),
              ms(Math.min(...r.timesMs)),
              ms(Math.max(...r.timesMs)),
              String(median(r.removed)),
              (median(r.fillMs) / 1000).toFixed(2),
            ],
      ),
    ),
  );
  for (const r of results.eviction) {
    if (r.error) out.push(`  [x] ${r.label}: ${r.error}`);
    for (const p of r.problems) out.push(`  [!] ${r.label}: ${p}`);
  }

  out.push('');
  const writes = results.writes;
  if ('error' in writes) {
    out.push(`Invalidation (ii): write latency could not be measured: ${writes.error}`);
    return out.join('\n');
  }
  out.push(
    `Invalidation (ii): repository.save() of one product (an update) on SQLite :memory:, ` +
      `${writes.saves} timed saves per setup, interleaved`,
  );
  out.push(
    table(
      [
        'setup',
        'p50 ms',
        'p90 ms',
        'p99 ms',
        'mean ms',
        'max ms',
        'added p50 ms',
        'added p99 ms',
        'pages evicted/save',
      ],
      writes.results.map((r) => [
        r.label,
        ms(r.latencyMs.p50),
        ms(r.latencyMs.p90),
        ms(r.latencyMs.p99),
        ms(r.latencyMs.mean),
        ms(r.latencyMs.max),
        r.addedMs ? signed(r.addedMs.p50) : '-',
        r.addedMs ? signed(r.addedMs.p99) : '-',
        r.pagesCached > 0 ? r.evictedPerSave.toFixed(2) : '-',
      ]),
    ),
  );
  out.push('  added = the setup minus (A) at the same percentile.');
  for (const r of writes.results) for (const p of r.problems) out.push(`  [!] ${r.label}: ${p}`);
  return out.join('\n');
}

function signed(value: number): string {
  return (value >= 0 ? '+' : '') + ms(value);
}
