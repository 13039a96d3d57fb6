import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // `npm run test:properties-long` runs every property many more times (see the setup file).
    setupFiles:
      process.env.AMISYNC_PROPERTY_FACTOR === undefined
        ? []
        : ['./src/test-support/property-runs.ts'],
  },
});
