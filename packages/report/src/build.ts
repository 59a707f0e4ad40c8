import { copyFileSync, existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildFindings, type Finding } from './findings.js';
import { renderPage } from './html.js';
import { copyModelDownloads } from './models.js';
import { buildDemo } from './demo.js';
import { loadRuns, type LoadedRun, type SkippedFile } from './load.js';
import { datasetLabel, publishedForDataset } from './published.js';
import { buildQualitativePanels } from './qualitative.js';
import { buildResultsJson } from './results-json.js';
import { buildAblation, buildSemiComparisons, semiToMarkdown } from './semi.js';
import { buildComparisonTables, tablesToCsv, tablesToMarkdown, type DatasetTable } from './tables.js';

export interface BuildReportOptions {
  /**
   * Root the reproduce pipeline writes to (runs/<profile>/<dataset>/<model>/f<ratio>/s<seed>/result.json),
   * or several to merge into one report (see loadRuns for runs found in more than one).
   */
  runsDir: string | readonly string[];
  /** Site folder; replaced as a whole. An existing folder must be one this function wrote. */
  outDir: string;
  /** Only runs of this profile. */
  profile?: string;
  title?: string;
  /** Test images per dataset in the qualitative panel (default 4). */
  maxQualitativeImages?: number;
  /** Clock for the "generated" stamp (tests pin it). */
  now?: Date;
}

export interface BuildReportOutcome {
  /** Absolute path of the written index.html. */
  indexHtml: string;
  outDir: string;
  tables: DatasetTable[];
  findings: Finding[];
  runs: LoadedRun[];
  skipped: SkippedFile[];
  warnings: string[];
  /** Staging folders of earlier builds that were killed mid-way, deleted by this one. */
  removedLeftovers: string[];
}

/** Datasets this project reproduces: their published numbers are shown even without runs. */
const REPRODUCED_DATASETS = ['monuseg', 'qata'];
const SITE_MARKER = '.lvit-bench-report';
/** Sibling folders a build works in: `<site>.tmp-<pid>-<ms>` while assembling, `<site>.old-<pid>-<ms>` while swapping. */
const STAGING_MARK = '.tmp-';
const SWAP_MARK = '.old-';
const MAX_LOG_BYTES = 5 * 1024 * 1024;
const ASSETS_DIR = fileURLToPath(new URL('../assets/', import.meta.url));

/**
 * Read every result file under `runsDir` and write a self-contained static site to `outDir`:
 * index.html, assets/ (chart.js, CSS, client script, overlays, logs, exported models), results.json, tables.csv,
 * tables.md. The site is assembled in a sibling folder and swapped in at the end, so a reader
 * never sees half a site.
 */
export async function buildReport(opts: BuildReportOptions): Promise<BuildReportOutcome> {
  const runsDirs = (typeof opts.runsDir === 'string' ? [opts.runsDir] : opts.runsDir).map((d) => resolve(d));
  const outDir = resolve(opts.outDir);
  assertReplaceable(outDir);
  const removedLeftovers = removeAbandonedBuilds(outDir);
  const title = opts.title ?? 'LViT reproduction report';
  const generatedAt = (opts.now ?? new Date()).toISOString();
  const runsRootLabels = new Map(runsDirs.map((d) => [d, relative(dirname(outDir), d) || '.']));
  const runsLabel = [...new Set(runsRootLabels.values())].join(', ');

  const { runs, skipped } = loadRuns(runsDirs, { profile: opts.profile });
  const tables = buildComparisonTables(runs);
  const findings = buildFindings(tables);
  const publishedOnly: DatasetTable[] = REPRODUCED_DATASETS.filter((d) => !tables.some((t) => t.dataset === d)).map((d) => ({
    dataset: d,
    datasetLabel: datasetLabel(d),
    rows: [],
    published: publishedForDataset(d),
  }));

  const staging = `${outDir}${STAGING_MARK}${process.pid}-${Date.now()}`;
  mkdirSync(staging, { recursive: true });
  try {
    copyStaticAssets(staging);
    const { panels, warnings: qualWarnings } = await buildQualitativePanels(runs, staging, { maxImages: opts.maxQualitativeImages });
    const logLinks = copyLogs(runs, staging);
    const downloads = copyModelDownloads(runs, staging);
    const { demo, warnings: demoWarnings } = buildDemo(runs, downloads, staging);
    const semi = buildSemiComparisons(tables, runs);
    const ablation = buildAblation(tables, runs);
    const results = buildResultsJson({ title, generatedAt, profileFilter: opts.profile ?? null, tables, runs, findings });
    const hideRoot = (text: string) => [...runsRootLabels].reduce((t, [dir, label]) => t.split(dir + sep).join(`${label}/`), text);
    const warnings = [...qualWarnings, ...demoWarnings].map(hideRoot);
    const html = renderPage({
      title,
      generatedAt,
      runsLabel,
      runsRootLabels,
      profileFilter: opts.profile ?? null,
      tables,
      publishedOnly,
      findings,
      semi,
      ablation,
      runs,
      skipped: skipped.map((s) => ({ file: hideRoot(s.file), reason: hideRoot(s.reason) })),
      panels,
      warnings,
      logLinks,
      downloads,
      demo,
      results,
    });
    writeFileSync(join(staging, 'index.html'), html);
    writeFileSync(join(staging, 'results.json'), JSON.stringify(results, null, 1) + '\n');
    writeFileSync(join(staging, 'tables.csv'), tablesToCsv(tables));
    writeFileSync(join(staging, 'tables.md'), [tablesToMarkdown(tables, { title }), semiToMarkdown(semi, ablation)].filter(Boolean).join('\n'));
    writeFileSync(join(staging, SITE_MARKER), 'Written by @lvit-bench/report; this folder is replaced on every build.\n');
    swapIn(staging, outDir);
    return { indexHtml: join(outDir, 'index.html'), outDir, tables, findings, runs, skipped, warnings, removedLeftovers };
  } catch (err) {
    rmSync(staging, { recursive: true, force: true });
    throw err;
  }
}

/** Refuse to replace a non-empty folder the report did not write (e.g. a typo'd --out). */
function assertReplaceable(outDir: string): void {
  if (!existsSync(outDir)) return;
  if (!statSync(outDir).isDirectory()) throw new Error(`build.ts: output path ${outDir} exists and is not a folder`);
  if (readdirSync(outDir).length > 0 && !existsSync(join(outDir, SITE_MARKER))) {
    throw new Error(`build.ts: refusing to replace ${outDir}: it is not empty and was not written by the report (no ${SITE_MARKER} file)`);
  }
}

/**
 * Delete the staging and swap folders of builds into `outDir` that were killed before cleaning up
 * (their pid no longer runs here); a live build's are left alone. They hold only derived files.
 */
function removeAbandonedBuilds(outDir: string): string[] {
  const parent = dirname(outDir);
  const prefixes = [STAGING_MARK, SWAP_MARK].map((mark) => basename(outDir) + mark);
  const removed: string[] = [];
  for (const entry of existsSync(parent) ? readdirSync(parent, { withFileTypes: true }) : []) {
    const prefix = prefixes.find((p) => entry.name.startsWith(p));
    const pid = prefix && /^(\d+)-\d+$/.exec(entry.name.slice(prefix.length))?.[1];
    if (!entry.isDirectory() || !pid || isRunning(Number(pid))) continue;
    rmSync(join(parent, entry.name), { recursive: true, force: true });
    removed.push(join(parent, entry.name));
  }
  return removed;
}

/** Whether a process with this pid runs on this machine (signal 0 checks without sending). */
function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function swapIn(staging: string, outDir: string): void {
  const old = `${outDir}${SWAP_MARK}${process.pid}-${Date.now()}`;
  if (existsSync(outDir)) renameSync(outDir, old);
  renameSync(staging, outDir);
  rmSync(old, { recursive: true, force: true });
}

function copyStaticAssets(siteDir: string): void {
  const assets = join(siteDir, 'assets');
  mkdirSync(assets, { recursive: true });
  const chartEntry = createRequire(import.meta.url).resolve('chart.js'); // .../chart.js/dist/chart.cjs
  const chartDist = dirname(chartEntry);
  const umd = join(chartDist, 'chart.umd.min.js');
  if (!existsSync(umd)) throw new Error(`build.ts: chart.js UMD build not found at ${umd}`);
  copyFileSync(umd, join(assets, 'chart.umd.min.js'));
  const license = join(dirname(chartDist), 'LICENSE.md');
  if (existsSync(license)) copyFileSync(license, join(assets, 'chart.js-LICENSE.md'));
  for (const file of ['report.css', 'report-client.js', 'demo-client.js']) copyFileSync(join(ASSETS_DIR, file), join(assets, file));
}

/** Copy each run's log.jsonl (up to 5 MiB) so the published site links to it. */
function copyLogs(runs: readonly LoadedRun[], siteDir: string): Map<string, string> {
  const links = new Map<string, string>();
  for (const run of runs) {
    if (!run.logFile || statSync(run.logFile).size > MAX_LOG_BYTES) continue;
    const rel = `assets/logs/${run.anchor}.jsonl`;
    mkdirSync(join(siteDir, 'assets', 'logs'), { recursive: true });
    copyFileSync(run.logFile, join(siteDir, rel));
    links.set(run.anchor, rel);
  }
  return links;
}
