/**
 * One jest run, three projects: `npm test` runs them all; `npm run test:unit`,
 * `test:integration`, `test:tools` pick one (--selectProjects), `test:dsp` the DSP's tests.
 * The global setup (a private redis-server unless REDIS_URL is set) is the run's, not a
 * project's, so it starts once whichever projects run.
 */
const project = (name) => ({
  displayName: name,
  testEnvironment: 'node',
  roots: [`<rootDir>/test/${name}`],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json' }] },
});

/** @type {import('jest').Config} */
module.exports = {
  projects: [project('unit'), project('integration'), project('tools')],
  globalSetup: '<rootDir>/test/support/global-setup.ts',
  globalTeardown: '<rootDir>/test/support/global-teardown.ts',
  testTimeout: 30000,
  maxWorkers: 2,
};
