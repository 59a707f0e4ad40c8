/**
 * CLI: build the static report site from the result files of reproduce runs.
 *   node scripts/dist/report.js [--runs runs[,more-runs]] [--out site] [--profile smoke] [--title "..."]
 * Defaults are runs/ and site/ at the repository root; relative paths given as flags are taken
 * from the current directory (as in the reproduce CLI).
 */
import { existsSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { resolveCacheDir } from '@lvit-bench/datasets';
import { buildReport } from '@lvit-bench/report';
import { listFlag, parseFlags, stringFlag } from './lib/args.js';
import { exportPublishedSeeds } from './lib/export-run.js';
import { repoRoot } from './lib/repo.js';

const FLAGS = { runs: 'string', out: 'string', profile: 'string', title: 'string', 'cache-dir': 'string', 'no-export': 'boolean', help: 'boolean' } as const;

const USAGE = `Usage: node scripts/dist/report.js [--runs DIR[,DIR...]] [--out DIR] [--profile NAME] [--title TEXT]
  --runs DIR,...  runs root(s) written by reproduce (default: <repo>/runs); several are merged into one
                  report: a run found in two with identical results counts once, with different
                  results it is an error naming both files
  --out DIR       site folder to (re)write (default: <repo>/site); a non-empty folder not written by the report is refused
  --profile NAME  only runs of this profile (e.g. smoke, quick, paper)
  --title TEXT    page title
  --cache-dir DIR text-feature cache for LViT-T exports (env LVIT_CACHE_DIR; default .cache/)
  --no-export     do not export the model each row links (by default a row's published seed without an
                  up-to-date model.onnx is exported into its run folder first, as reproduce does)`;

async function main(argv: string[]): Promise<void> {
  const flags = parseFlags(argv, FLAGS);
  if (flags.help === true) {
    console.log(USAGE);
    return;
  }
  const root = repoRoot();
  const given = listFlag(flags, 'runs')?.map((d) => resolve(d));
  for (const dir of given ?? []) if (!existsSync(dir)) throw new Error(`--runs: ${dir} does not exist`);
  const runsDirs = given ?? [join(root, 'runs')];
  const outDir = resolve(stringFlag(flags, 'out') ?? join(root, 'site'));
  const profile = stringFlag(flags, 'profile');
  if (flags['no-export'] !== true) {
    // Sharded matrices build no report in reproduce, so their models are exported here.
    const log = (m: string) => console.log(`[report] ${m}`);
    for (const failure of await exportPublishedSeeds(runsDirs, profile, { cacheDir: resolveCacheDir(stringFlag(flags, 'cache-dir')), log })) console.warn(`[report] FAILED export ${failure}`);
  }
  const outcome = await buildReport({ runsDir: runsDirs, outDir, profile, title: stringFlag(flags, 'title') });

  const rows = outcome.tables.reduce((n, t) => n + t.rows.length, 0);
  const from = runsDirs.map((d) => relative(process.cwd(), d) || '.').join(', ');
  console.log(`[report] ${outcome.runs.length} run(s) from ${from}, ${rows} table row(s) in ${outcome.tables.length} dataset table(s)`);
  for (const dir of outcome.removedLeftovers) console.log(`[report] removed ${dir}, left by a build that was killed`);
  for (const s of outcome.skipped) console.warn(`[report] not used: ${s.file}: ${s.reason}`);
  for (const w of outcome.warnings) console.warn(`[report] warning: ${w}`);
  if (outcome.runs.length === 0) console.warn(`[report] no result files found${flags.profile ? ` for profile ${flags.profile}` : ''}; the page says so`);
  console.log(`[report] wrote ${outcome.indexHtml} (+ tables.csv, tables.md, results.json)`);
}

main(process.argv.slice(2)).then(
  () => process.exit(0),
  (err) => {
    console.error(`[report] ${err instanceof Error ? err.message : err}`);
    process.exit(1);
  },
);
