import type { InvariantChecker } from './invariant-checker.js';
import type { SoakInstance } from './soak-types.js';
import { INVARIANTS } from './soak-types.js';
import type { WorkloadStats } from './soak-workload.js';

/** Percentile of unsorted values (nearest rank). */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

const mb = (bytes: number) => (bytes / 2 ** 20).toFixed(0);
const ms = (value: number) => (Number.isNaN(value) ? '-' : value.toFixed(1));
const ratio = (hits: number, misses: number) =>
  hits + misses === 0 ? '-' : `${((100 * hits) / (hits + misses)).toFixed(1)} %`;

function table(head: string[], rows: (string | number)[][]): string {
  const line = (cells: (string | number)[]) => `| ${cells.join(' | ')} |`;
  return [line(head), line(head.map(() => '---')), ...rows.map(line)].join('\n');
}

/** The soak's tables (Markdown), as printed at the end of a run. */
export function formatSoakReport(input: {
  seconds: number;
  instances: SoakInstance[];
  stats: WorkloadStats;
  checker: InvariantChecker;
  busDelays: number[];
  busAllowanceMs: number;
  revalidateAllowanceMs: number;
  heapBound: number;
  origin: number;
}): string {
  const { seconds, instances, stats, checker, origin } = input;
  const totals = { hits: 0, misses: 0, bypass: 0 };
  const rows = instances.map((i) => {
    const s = stats.byInstance.get(i.name)!;
    totals.hits += s.hits;
    totals.misses += s.misses;
    totals.bypass += s.bypass;
    return [
      `${i.name} (${i.store})`,
      s.responses,
      (s.responses / seconds).toFixed(0),
      ratio(s.hits, s.misses),
      ms(percentile(s.latencies, 50)),
      ms(percentile(s.latencies, 99)),
      `${mb(i.memory.heapUsed)} / ${mb(input.heapBound)}`,
      mb(i.memory.rss),
      `${i.incidents.storeFailures} / ${i.incidents.evictionsQueued}`,
    ];
  });
  rows.push([
    '**all**',
    stats.responses,
    (stats.responses / seconds).toFixed(0),
    ratio(totals.hits, totals.misses),
    ms(percentile(stats.latencies, 50)),
    ms(percentile(stats.latencies, 99)),
    '',
    '',
    '',
  ]);
  const load = table(
    [
      'instance',
      'responses',
      'req/s',
      'hit ratio',
      'p50 ms',
      'p99 ms',
      'peak heap MB / bound',
      'peak RSS MB',
      'store failures / evictions queued',
    ],
    rows,
  );
  const invariants = table(
    ['invariant', 'checked', 'violations'],
    INVARIANTS.map((n) => [n, checker.checked.get(n)!, checker.violations.get(n)!]),
  );
  const faults = table(
    ['fault', 'window (s)', 'tolerated during it', 'notes'],
    checker.windows.map((w) => [
      w.name,
      `${((w.start - origin) / 1000).toFixed(1)}-${((w.end - origin) / 1000).toFixed(1)}`,
      [...w.tolerated].map(([reason, n]) => `${reason}: ${n}`).join('; ') || 'nothing',
      w.notes.join('; '),
    ]),
  );
  const bus = input.busDelays;
  const lags = checker.busLags;
  const lines = [
    `Soak: ${seconds.toFixed(0)} s; ${stats.responses} checked responses (${totals.bypass} signed-in bypasses), ` +
      `${stats.edits} product edits (${stats.editFailures} failed: faults), ${stats.settingEdits} store-name edits, ` +
      `${stats.purges} purges (${stats.purgesRefused} more answered 503: store away, queued), aborted ${stats.aborted['mid-render']} mid-render ` +
      `(${stats.collapseFollowers} waiters on those keys) and ${stats.aborted['mid-response']} mid-response.`,
    '',
    load,
    '',
    invariants,
    '',
    faults,
    '',
    `Bus delay (tiered to tiered): measured before the load, edit on A returned → B served it: ` +
      `${bus.map((d) => d.toFixed(0)).join(', ')} ms. Allowance during the soak: ${input.busAllowanceMs} ms ` +
      `(${lags.length} reads of B/A within it, longest ${lags.length ? Math.max(...lags).toFixed(0) : 0} ms, ` +
      `p99 ${ms(percentile(lags, 99))} ms); after an edit on the plain-Redis instance (no bus): ` +
      `${input.revalidateAllowanceMs} ms (l1Revalidate). The editing instance and plain Redis: none.`,
  ];
  if (checker.examples.length)
    lines.push('', 'Violations (first ones):', ...checker.examples.map((e) => `- ${e}`));
  return lines.join('\n');
}
