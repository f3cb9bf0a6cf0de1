import type { Parameters as FcParameters } from 'fast-check';

/** The seed when FUZZ_SEED is not set: the same runs every time, so CI never flakes on luck. */
const DEFAULT_SEED = 0x0c_ac_4e;

/**
 * Bounded runs with a known seed: `FUZZ_RUNS` (default `runs`) and `FUZZ_SEED` (a number, or
 * `random` to explore). fast-check prints the seed and the path of a failure: set them again to
 * replay it (`FUZZ_SEED=… npx jest test/fuzz`).
 */
export function fuzzParameters<T>(runs: number): FcParameters<T> {
  const given = process.env.FUZZ_SEED;
  const seed =
    given === 'random'
      ? Math.floor(Math.random() * 0x7fffffff)
      : given
        ? Number(given)
        : DEFAULT_SEED;
  return { numRuns: Number(process.env.FUZZ_RUNS ?? runs), seed, endOnFailure: false };
}
