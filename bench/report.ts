import type { Scenario, ScenarioRun } from './scenario.js';
import type { Target } from './scenarios.js';

/** A scenario's runs and their medians. */
export interface ScenarioSummary {
  id: string;
  title: string;
  note?: string;
  reqPerSec: number;
  p50: number;
  p99: number;
  serverCpuUsPerReq: number;
  clientCpuPct: number;
  otherCpuPct: number;
  /** CPU use of the external servers (Redis, PostgreSQL), % of one core; null when none. */
  serviceCpuPct: number | null;
  /** Their CPU time per response, µs; null when none. */
  serviceCpuUsPerReq: number | null;
  bytesPerResponse: number;
  /** Ratio of req/s to the reference scenario, when it ran. */
  ratio: number | undefined;
  problems: string[];
  /** Why the scenario could not run, when no round of it did. */
  error?: string;
  runs: ScenarioRun[];
}

export interface TargetResult extends Target {
  /** Ratio of the median req/s: what the target is judged on. */
  value: number | undefined;
  /**
   * The same ratio from CPU time per response (denominator's over numerator's; the server
   * process's plus its Redis or PostgreSQL server's): less sensitive to other load on the
   * machine, shown alongside.
   */
  cpuValue: number | undefined;
  /** Undefined when the target is only reported (no `min`) or could not be measured. */
  pass: boolean | undefined;
}

export function median(values: number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Medians over the rounds of each scenario that ran, with ratios to `referenceId`. */
export function summarize(
  scenarios: Scenario[],
  runs: ScenarioRun[],
  referenceId: string,
): ScenarioSummary[] {
  const summaries = scenarios.map((scenario): ScenarioSummary => {
    const all = runs.filter((run) => run.id === scenario.id);
    // Rounds that could not run count for nothing; with none left, the row is an error.
    const own = all.filter((run) => run.error === undefined);
    const of = (pick: (run: ScenarioRun) => number) => median(own.map(pick));
    const ofNullable = (pick: (run: ScenarioRun) => number | null) => {
      const values = own.map(pick).filter((v): v is number => v !== null);
      return values.length > 0 ? median(values) : null;
    };
    return {
      id: scenario.id,
      title: scenario.title,
      note: scenario.note,
      reqPerSec: of((r) => r.reqPerSec),
      p50: of((r) => r.latency.p50),
      p99: of((r) => r.latency.p99),
      serverCpuUsPerReq: of((r) => r.serverCpuUsPerReq),
      clientCpuPct: of((r) => r.clientCpuPct),
      otherCpuPct: of((r) => r.otherCpuPct),
      serviceCpuPct: ofNullable((r) => r.serviceCpuPct),
      serviceCpuUsPerReq: ofNullable((r) => r.serviceCpuUsPerReq),
      bytesPerResponse: of((r) => r.bytesPerResponse),
      ratio: undefined,
      problems: [
        ...new Set(
          all.flatMap((r) => [
            ...r.problems.map((p) => `round ${r.round}: ${p}`),
            ...(r.error !== undefined && own.length > 0 ? [`round ${r.round}: ${r.error}`] : []),
          ]),
        ),
      ],
      error: own.length === 0 ? all.find((r) => r.error !== undefined)?.error : undefined,
      runs: all,
    };
  });
  const reference = summaries.find((s) => s.id === referenceId);
  if (reference && Number.isFinite(reference.reqPerSec)) {
    for (const s of summaries) {
      if (Number.isFinite(s.reqPerSec)) s.ratio = s.reqPerSec / reference.reqPerSec;
    }
  }
  return summaries;
}

/** CPU time per response of the server process and its external servers, µs. */
function cpuPerRequest(s: ScenarioSummary): number {
  return s.serverCpuUsPerReq + (s.serviceCpuUsPerReq ?? 0);
}

export function evaluateTargets(targets: Target[], summaries: ScenarioSummary[]): TargetResult[] {
  return targets.map((target) => {
    const num = summaries.find((s) => s.id === target.numerator);
    const den = summaries.find((s) => s.id === target.denominator);
    const measured = (x: number | undefined) =>
      x !== undefined && Number.isFinite(x) ? x : undefined;
    const value = measured(num && den ? num.reqPerSec / den.reqPerSec : undefined);
    const cpuValue = measured(num && den ? cpuPerRequest(den) / cpuPerRequest(num) : undefined);
    return {
      ...target,
      value,
      cpuValue,
      pass: value === undefined || target.min === undefined ? undefined : value >= target.min,
    };
  });
}

/**
 * The results table, one line per scenario, then notes and problems. A "service CPU" column
 * (Redis, PostgreSQL) appears when a scenario measured one.
 */
export function formatTable(
  summaries: ScenarioSummary[],
  referenceId: string,
  note?: string,
): string {
  const services = summaries.some((s) => s.serviceCpuPct !== null);
  const header = [
    'scenario',
    'req/s',
    'p50 ms',
    'p99 ms',
    `ratio to (${referenceId})`,
    'server µs/req',
    ...(services ? ['service CPU'] : []),
    'client CPU',
    'other CPU',
    'bytes/resp',
  ];
  const rows = summaries.map((s) => {
    const title = `(${s.id}) ${s.title}${s.error ? ' [x]' : s.problems.length ? ' [!]' : ''}`;
    if (s.error) return [title, 'error', ...header.slice(2).map(() => '-')];
    return [
      title,
      s.reqPerSec.toFixed(0),
      s.p50.toFixed(1),
      s.p99.toFixed(1),
      s.ratio === undefined ? '-' : s.ratio.toFixed(2),
      s.serverCpuUsPerReq.toFixed(0),
      ...(services ? [s.serviceCpuPct === null ? '-' : `${s.serviceCpuPct.toFixed(0)}%`] : []),
      `${s.clientCpuPct.toFixed(0)}%`,
      `${Math.max(0, s.otherCpuPct).toFixed(0)}%`,
      s.bytesPerResponse.toFixed(0),
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) =>
    '| ' +
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(' | ') +
    ' |';
  const out = [line(header), '|' + widths.map((w) => '-'.repeat(w + 2)).join('|') + '|'];
  for (const row of rows) out.push(line(row));
  for (const s of summaries) if (s.note) out.push(`  (${s.id}) ${s.note}`);
  if (note) out.push(`  ${note}`);
  for (const s of summaries) if (s.error) out.push(`  [x] (${s.id}) ${s.error}`);
  for (const s of summaries) for (const p of s.problems) out.push(`  [!] (${s.id}) ${p}`);
  return out.join('\n');
}

export function formatTargets(results: TargetResult[]): string {
  return results
    .map((t) => {
      const verdict =
        t.value === undefined ? 'SKIP' : t.min === undefined ? 'INFO' : t.pass ? 'PASS' : 'FAIL';
      const value = t.value === undefined ? 'n/a' : t.value.toFixed(3);
      const min = t.min === undefined ? ' (reported)' : ` ≥ ${t.min.toFixed(2)}`;
      const cpu = t.cpuValue === undefined ? '' : ` (by CPU/req: ${t.cpuValue.toFixed(3)})`;
      return `${verdict}  (${t.numerator})/(${t.denominator}) = ${value}${min}${cpu}  ${t.label}`;
    })
    .join('\n');
}
