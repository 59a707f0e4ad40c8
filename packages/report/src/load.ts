import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import type { RunResult } from '@lvit-bench/core';

/** One result file that passed validation, with where it lives and how the page refers to it. */
export interface LoadedRun {
  result: RunResult;
  /** Absolute path of the result.json. */
  file: string;
  /** Absolute path of the runs root it was read from (one of several when runs folders are merged). */
  runsRoot: string;
  /** The run's folder relative to its runs root, '/'-separated (e.g. 'smoke/qata/unet/f50/s666'). */
  relDir: string;
  /** HTML id of the run's details section. */
  anchor: string;
  /** Label ratio in % (the schema writes 25/50/100; a fraction in (0,1] is converted). */
  labelPercent: number;
  /** Absolute path of the run's log.jsonl, when there is one. */
  logFile: string | null;
}

/** A result file the report did not use, and why (shown on the page, never dropped silently). */
export interface SkippedFile {
  file: string;
  reason: string;
}

export interface LoadOutcome {
  runs: LoadedRun[];
  skipped: SkippedFile[];
}

const RESULT_FILE = 'result.json';

/** Every result.json below `root`, sorted. Symlinked folders are not followed (no cycles). */
export function findResultFiles(root: string): string[] {
  if (!existsSync(root)) return [];
  const found: string[] = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.isFile() && entry.name === RESULT_FILE) found.push(path);
    }
  };
  walk(resolve(root));
  return found.sort();
}

/**
 * Read and validate every result file under `runsDirs` (one runs root, or several to merge, e.g.
 * one per machine). With `profile`, only runs of that profile are kept. Two files for the same run
 * (profile, dataset, model, label ratio, seed):
 * - under one root (a run re-done into a copied folder): the one that finished last is used and
 *   the other is listed as skipped;
 * - under two roots: identical results count once (the copy is listed as skipped); results that
 *   differ are an error naming both files, since neither is more right than the other.
 */
export function loadRuns(runsDirs: string | readonly string[], opts: { profile?: string } = {}): LoadOutcome {
  const roots = [...new Set((typeof runsDirs === 'string' ? [runsDirs] : runsDirs).map((d) => resolve(d)))];
  const usedAnchors = new Set<string>();
  const skipped: SkippedFile[] = [];
  const byKey = new Map<string, LoadedRun>();
  for (const root of roots) {
    const fromRoot = loadRoot(root, opts, usedAnchors);
    skipped.push(...fromRoot.skipped);
    for (const run of fromRoot.runs) {
      const key = runKey(run);
      const previous = byKey.get(key);
      if (!previous) byKey.set(key, run);
      else if (isDeepStrictEqual(previous.result, run.result)) skipped.push({ file: run.file, reason: `identical to ${previous.file}, counted once` });
      else {
        const where = firstDifference(previous.result, run.result);
        throw new Error(`${previous.file} and ${run.file} are different results of the same run (${run.result.runId}; they differ at ${where}); move away the one that should not count`);
      }
    }
  }
  return { runs: [...byKey.values()], skipped };
}

/** The runs under one root, its own duplicates resolved (the one that finished last is used). */
function loadRoot(root: string, opts: { profile?: string }, usedAnchors: Set<string>): LoadOutcome {
  const skipped: SkippedFile[] = [];
  const byKey = new Map<string, LoadedRun>();
  for (const file of findResultFiles(root)) {
    let result: RunResult;
    try {
      result = parseRunResult(readFileSync(file, 'utf8'), file);
    } catch (err) {
      skipped.push({ file, reason: (err as Error).message });
      continue;
    }
    if (opts.profile !== undefined && result.profile.name !== opts.profile) continue;
    const relDir = relative(root, dirname(file)).split(sep).join('/') || '.';
    const run: LoadedRun = {
      result,
      file,
      runsRoot: root,
      relDir,
      anchor: uniqueAnchor(`run-${slug(relDir)}`, usedAnchors),
      labelPercent: toLabelPercent(result.labelFraction),
      logFile: existsSync(join(dirname(file), 'log.jsonl')) ? join(dirname(file), 'log.jsonl') : null,
    };
    const key = runKey(run);
    const previous = byKey.get(key);
    if (!previous) {
      byKey.set(key, run);
      continue;
    }
    const [keep, drop] = finishedAt(run) >= finishedAt(previous) ? [run, previous] : [previous, run];
    byKey.set(key, keep);
    skipped.push({ file: drop.file, reason: `same run as ${keep.file}, which finished later and is used instead` });
  }
  return { runs: [...byKey.values()], skipped };
}

/** Parse one result.json and check the fields the report relies on; errors name the file. */
export function parseRunResult(text: string, file: string): RunResult {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new Error(`${file}: not valid JSON (${(err as Error).message})`);
  }
  const r = value as Partial<RunResult> & Record<string, unknown>;
  const fail = (what: string): never => {
    throw new Error(`${file}: ${what}`);
  };
  if (typeof r !== 'object' || r === null) fail('not a JSON object');
  if (r.schema !== 'lvit-bench/run@1') fail(`schema is ${JSON.stringify(r.schema)}, expected "lvit-bench/run@1"`);
  for (const key of ['runId', 'model', 'dataset'] as const) {
    if (typeof r[key] !== 'string' || r[key] === '') fail(`'${key}' must be a non-empty string`);
  }
  if (!isFiniteNumber(r.labelFraction) || r.labelFraction <= 0 || r.labelFraction > 100) fail("'labelFraction' must be in (0, 100]");
  if (!Number.isInteger(r.seed)) fail("'seed' must be an integer");
  if (typeof r.profile?.name !== 'string' || typeof r.profile.reduced !== 'boolean') fail("'profile' needs a name and a boolean 'reduced'");
  const test = r.test;
  if (!test || !isFraction(test.dice) || !isFraction(test.iou)) fail("'test.dice' and 'test.iou' must be fractions in [0, 1]");
  if (!Array.isArray(test!.perImage)) fail("'test.perImage' must be an array");
  if (test!.pooled !== undefined && (!isFraction(test!.pooled?.dice) || !isFraction(test!.pooled?.iou))) {
    fail("'test.pooled.dice' and 'test.pooled.iou' must be fractions in [0, 1] when present");
  }
  if (!r.provenance || typeof r.provenance !== 'object') fail("'provenance' is missing");
  if (!r.train || typeof r.train !== 'object') fail("'train' is missing");
  if (!Array.isArray(r.curves)) fail("'curves' must be an array");
  if (!Array.isArray(r.qualitative)) fail("'qualitative' must be an array");
  return r as RunResult;
}

/** 25/50/100 stay as they are; a fraction in (0, 1] (e.g. 0.25) becomes a percentage. */
export function toLabelPercent(labelFraction: number): number {
  return labelFraction <= 1 ? Math.round(labelFraction * 100 * 1e6) / 1e6 : labelFraction;
}

export function slug(text: string): string {
  return text
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
}

function uniqueAnchor(base: string, used: Set<string>): string {
  let anchor = base;
  for (let i = 2; used.has(anchor); i++) anchor = `${base}-${i}`;
  used.add(anchor);
  return anchor;
}

/** The first path (e.g. 'provenance.startedAt', 'curves[3].trainLoss') at which two JSON values differ. */
function firstDifference(a: unknown, b: unknown, path = ''): string {
  if (typeof a === 'object' && a !== null && typeof b === 'object' && b !== null && Array.isArray(a) === Array.isArray(b)) {
    const [x, y] = [a as Record<string, unknown>, b as Record<string, unknown>];
    for (const key of new Set([...Object.keys(x), ...Object.keys(y)])) {
      if (!isDeepStrictEqual(x[key], y[key])) return firstDifference(x[key], y[key], Array.isArray(a) ? `${path}[${key}]` : path ? `${path}.${key}` : key);
    }
  }
  return path || '(the whole result)';
}

function runKey(run: LoadedRun): string {
  const r = run.result;
  return [r.profile.name, r.dataset, r.model, run.labelPercent, r.seed].join('|');
}

function finishedAt(run: LoadedRun): string {
  return run.result.provenance.finishedAt ?? '';
}

function isFiniteNumber(x: unknown): x is number {
  return typeof x === 'number' && Number.isFinite(x);
}

function isFraction(x: unknown): x is number {
  return isFiniteNumber(x) && x >= 0 && x <= 1;
}
