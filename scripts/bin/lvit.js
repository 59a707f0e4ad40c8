#!/usr/bin/env node
// `npx lvit <command>`: a stable bin path for npm to link at install time; the commands live in
// the built dist/ (run `npx turbo run build` first).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const cli = new URL('../dist/cli.js', import.meta.url);
if (!existsSync(fileURLToPath(cli))) {
  console.error('lvit: scripts are not built yet; run `npx turbo run build` (or `npx turbo run reproduce`) first.');
  process.exit(1);
}
await import(cli.href);
