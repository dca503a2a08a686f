import { defineConfig } from 'vitest/config';

// Tests import sibling packages from their TypeScript sources through the
// "@crosstalk/source" export condition, so `npm test` never runs against a stale build.
export default defineConfig({
  resolve: { conditions: ['@crosstalk/source'] },
  ssr: { resolve: { conditions: ['@crosstalk/source'] } },
  test: {
    include: [
      'packages/*/test/**/*.test.ts',
      'examples/*.test.ts',
      'examples/*/test/**/*.test.ts',
      'bench/*/test/**/*.test.ts',
    ],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // `npx vitest run --tags-filter='!slow'` leaves these out while iterating; `npm test` runs them.
    tags: [
      {
        name: 'slow',
        description: 'packs every package and installs the tarballs with npm (about a minute)',
        timeout: 120_000,
      },
    ],
  },
});
