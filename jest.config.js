/** Jest in ESM mode (Nest 12 ships ESM only): run through `npm test`, which sets
 * NODE_OPTIONS=--experimental-vm-modules.
 *
 * Three projects: `unit` (specs next to the code), and the e2e files twice, on `express` and on
 * `fastify` (TEST_PLATFORM, set by each project's setup file; test/helpers/test-app.ts builds the
 * app on it), as nestjs/throttler tests on both platforms. Pick one with `--selectProjects`. */
const shared = {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: {
    '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: 'tsconfig.json', diagnostics: false }],
  },
};

/**
 * E2e files whose subject is not the HTTP behaviour of a platform: they run on Express only
 * (README, "Platform support", says why for each).
 */
export const expressOnly = [
  // Store contracts, cross-instance stores and the store's own failures: no HTTP platform involved.
  '<rootDir>/test/stores/',
  '<rootDir>/test/cross-instance-eviction',
  '<rootDir>/test/eviction-crash.e2e-spec.ts',
  '<rootDir>/test/fuzz/store-round-trip.e2e-spec.ts',
  '<rootDir>/test/redis-cluster.e2e-spec.ts',
  '<rootDir>/test/redis-outage.e2e-spec.ts',
  '<rootDir>/test/memory-bound.e2e-spec.ts',
  '<rootDir>/test/clock-skew.e2e-spec.ts',
  // Processes of their own (node:cluster workers, the sample shop as a child process), on the
  // platform they start themselves; the sample on Fastify: test/sample-fastify.e2e-spec.ts.
  '<rootDir>/test/cluster.e2e-spec.ts',
  '<rootDir>/test/refresh-cluster.e2e-spec.ts',
  '<rootDir>/test/cdn-varnish-sample.e2e-spec.ts',
  '<rootDir>/test/sample-fastify.e2e-spec.ts',
  '<rootDir>/test/shutdown.e2e-spec.ts',
  // Option validation at start-up; the platform's own start-up checks are in it on Express.
  '<rootDir>/test/startup-validation.e2e-spec.ts',
];

export default {
  // A global option: set inside a project, jest ignores it (5 s).
  testTimeout: 30000,
  // A backstop: a client library's socket closing late must never keep CI waiting.
  forceExit: true,
  projects: [
    { ...shared, displayName: 'unit', testMatch: ['<rootDir>/lib/**/*.spec.ts'] },
    {
      ...shared,
      displayName: 'express',
      testMatch: ['<rootDir>/test/**/*.e2e-spec.ts'],
      // What only Fastify has (onSend hooks, @fastify/cookie), on Fastify only.
      testPathIgnorePatterns: ['/node_modules/', '<rootDir>/test/fastify-platform.e2e-spec.ts'],
      setupFiles: ['<rootDir>/test/helpers/platform-express.setup.ts'],
    },
    {
      ...shared,
      displayName: 'fastify',
      testMatch: ['<rootDir>/test/**/*.e2e-spec.ts'],
      testPathIgnorePatterns: ['/node_modules/', ...expressOnly],
      setupFiles: ['<rootDir>/test/helpers/platform-fastify.setup.ts'],
    },
  ],
};
