/**
 * CLI entry of the reproduce pipeline (see lib/reproduce.ts): `turbo run reproduce -- --profile smoke`.
 */
import { ensureGlibcTunables } from '@lvit-bench/core';
import { reproduce } from './lib/reproduce.js';

ensureGlibcTunables();
reproduce(process.argv.slice(2)).then(
  // wasm's worker threads keep the event loop alive: exit explicitly.
  () => process.exit(0),
  (err) => {
    console.error(`[reproduce] ${err instanceof Error ? err.message : err}`);
    process.exit(1);
  },
);
