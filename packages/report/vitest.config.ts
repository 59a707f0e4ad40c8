import { defineConfig } from 'vitest/config';
// `ssr.resolve.conditions` too: vitest resolves workspace packages in SSR mode, where the top-level
// `resolve.conditions` is not applied, so without it `@lvit-bench/core` would load its stale dist/.
export default defineConfig({
  resolve: { conditions: ['source'] },
  ssr: { resolve: { conditions: ['source'] } },
  test: { testTimeout: 120_000, pool: 'forks' },
});
