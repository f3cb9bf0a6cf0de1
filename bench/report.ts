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
  bytesPerResponse: number;
  /** Ratio of req/s to the reference scenario, when it ran. */
  ratio: number | undefined;
  problems: string[];
  runs: ScenarioRun[];
}

export interface TargetResult extends Target {
  /** Ratio of the median req/s: what the target is judged on. */
  value: number | undefined;
  /**
   * The same ratio from server CPU time per response (denominator's over numerator's): less
   * sensitive to other load on the machine, shown alongside.
   */
  cpuValue: number | undefined;
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
  const summaries = scenarios.map((scenario) => {
    const own = runs.filter((run) => run.id === scenario.id);
    const of = (pick: (run: ScenarioRun) => number) => median(own.map(pick));
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
      bytesPerResponse: of((r) => r.bytesPerResponse),
      ratio: undefined as number | undefined,
      problems: [...new Set(own.flatMap((r) => r.problems.map((p) => `round ${r.round}: ${p}`)))],
      runs: own,
    };
  });
  const reference = summaries.find((s) => s.id === referenceId);
  if (reference) for (const s of summaries) s.ratio = s.reqPerSec / reference.reqPerSec;
  return summaries;
}

export function evaluateTargets(targets: Target[], summaries: ScenarioSummary[]): TargetResult[] {
  return targets.map((target) => {
    const num = summaries.find((s) => s.id === target.numerator);
    const den = summaries.find((s) => s.id === target.denominator);
    const value = num && den ? num.reqPerSec / den.reqPerSec : undefined;
    const cpuValue = num && den ? den.serverCpuUsPerReq / num.serverCpuUsPerReq : undefined;
    return {
      ...target,
      value,
      cpuValue,
      pass: value === undefined ? undefined : value >= target.min,
    };
  });
}

/** The results table, one line per scenario, then notes and problems. */
export function formatTable(summaries: ScenarioSummary[], referenceId: string): string {
  const header = [
    'scenario',
    'req/s',
    'p50 ms',
    'p99 ms',
    `ratio to (${referenceId})`,
    'server µs/req',
    'client CPU',
    'other CPU',
    'bytes/resp',
  ];
  const rows = summaries.map((s) => [
    `(${s.id}) ${s.title}${s.problems.length ? ' [!]' : ''}`,
    s.reqPerSec.toFixed(0),
    s.p50.toFixed(1),
    s.p99.toFixed(1),
    s.ratio === undefined ? '-' : s.ratio.toFixed(2),
    s.serverCpuUsPerReq.toFixed(0),
    `${s.clientCpuPct.toFixed(0)}%`,
    `${Math.max(0, s.otherCpuPct).toFixed(0)}%`,
    s.bytesPerResponse.toFixed(0),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) =>
    '| ' +
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(' | ') +
    ' |';
  const out = [line(header), '|' + widths.map((w) => '-'.repeat(w + 2)).join('|') + '|'];
  for (const row of rows) out.push(line(row));
  for (const s of summaries) if (s.note) out.push(`  (${s.id}) ${s.note}`);
  for (const s of summaries) for (const p of s.problems) out.push(`  [!] (${s.id}) ${p}`);
  return out.join('\n');
}

export function formatTargets(results: TargetResult[]): string {
  return results
    .map((t) => {
      const verdict = t.pass === undefined ? 'SKIP' : t.pass ? 'PASS' : 'FAIL';
      const value = t.value === undefined ? 'n/a' : t.value.toFixed(3);
      const cpu = t.cpuValue === undefined ? '' : ` (by server CPU/req: ${t.cpuValue.toFixed(3)})`;
      return `${verdict}  (${t.numerator})/(${t.denominator}) = ${value} ≥ ${t.min.toFixed(2)}${cpu}  ${t.label}`;
    })
    .join('\n');
}
