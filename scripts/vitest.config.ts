import { defineConfig } from 'vitest/config';
export default defineConfig({ resolve: { conditions: ['source'] }, test: { testTimeout: 120_000, pool: 'forks' } });
