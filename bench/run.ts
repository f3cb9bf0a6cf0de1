/**
 * Output cache benchmark: `npm run bench`.
 *
 * Env: BENCH_DURATION (s, default 10), BENCH_WARMUP (s, default 2), BENCH_CONNECTIONS (50),
 * BENCH_PIPELINING (1), BENCH_ROUNDS (1; medians over rounds, odd rounds in reverse order),
 * BENCH_SCENARIOS (ids to run, e.g. `a,d`; default all), BENCH_SERVER_ARGS (Node flags for the
 * server process, e.g. `--cpu-prof --cpu-prof-dir=dist-sample/profiles`).
 *
 * Results: a table on stdout and `dist-sample/bench-results.json`.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AppHost } from './app-host.js';
import { PAGE_HTML } from './fixtures.js';
import { evaluateTargets, formatTable, formatTargets, summarize } from './report.js';
import { type RunOptions, runScenario, type ScenarioRun } from './scenario.js';
import { SCENARIOS, TARGETS } from './scenarios.js';

const REFERENCE = 'a';
const OUTPUT = fileURLToPath(new URL('../bench-results.json', import.meta.url));

function envNumber(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0) throw new Error(`${name} must be a number, got ${raw}`);
  return value;
}

async function main(): Promise<void> {
  const options: RunOptions = {
    duration: envNumber('BENCH_DURATION', 10),
    warmup: envNumber('BENCH_WARMUP', 2),
    connections: envNumber('BENCH_CONNECTIONS', 50),
    pipelining: envNumber('BENCH_PIPELINING', 1),
  };
  const rounds = Math.max(1, Math.floor(envNumber('BENCH_ROUNDS', 1)));
  const only = process.env.BENCH_SCENARIOS?.split(',').map((id) => id.trim());
  const scenarios = only ? SCENARIOS.filter((s) => only.includes(s.id)) : SCENARIOS;
  const serverArgs = process.env.BENCH_SERVER_ARGS?.split(/\s+/).filter(Boolean) ?? [];

  const cpus = os.cpus();
  console.log(
    `nestjs-output-cache bench: page ${Buffer.byteLength(PAGE_HTML)} bytes, ` +
      `${options.duration}s runs after ${options.warmup}s warm-up, ` +
      `${options.connections} connections, pipelining ${options.pipelining}, ${rounds} round(s)`,
  );
  console.log(`node ${process.version}, ${cpus.length} × ${cpus[0]?.model ?? 'unknown CPU'}\n`);

  const host = new AppHost(serverArgs);
  const runs: ScenarioRun[] = [];
  try {
    for (let round = 1; round <= rounds; round++) {
      const order = round % 2 === 1 ? scenarios : [...scenarios].reverse();
      for (const scenario of order) {
        const run = await runScenario(host, scenario, options, round);
        runs.push(run);
        console.log(
          `  round ${round} (${scenario.id}) ${run.reqPerSec.toFixed(0)} req/s, ` +
            `p50 ${run.latency.p50.toFixed(1)} ms, p99 ${run.latency.p99.toFixed(1)} ms` +
            (run.problems.length ? `  [!] ${run.problems.join('; ')}` : ''),
        );
      }
    }
  } finally {
    await host.close();
  }

  const summaries = summarize(scenarios, runs, REFERENCE);
  const targets = evaluateTargets(TARGETS, summaries);
  console.log(`\n${formatTable(summaries, REFERENCE)}\n`);
  console.log(`Targets (median req/s ratios):\n${formatTargets(targets)}\n`);

  mkdirSync(dirname(OUTPUT), { recursive: true });
  writeFileSync(
    OUTPUT,
    JSON.stringify(
      {
        date: new Date().toISOString(),
        node: process.version,
        cpus: { count: cpus.length, model: cpus[0]?.model },
        pageBytes: Buffer.byteLength(PAGE_HTML),
        options: { ...options, rounds },
        reference: REFERENCE,
        scenarios: summaries,
        targets,
      },
      null,
      2,
    ),
  );
  console.log(`Results written to ${OUTPUT}`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
