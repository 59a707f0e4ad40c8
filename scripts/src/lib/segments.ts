/**
 * Which processes worked on a run: each appends its start time to `segments.json` in the run
 * folder (under the run lock), so a result finished after an interruption says so.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeJsonAtomic } from '@lvit-bench/core';

export const SEGMENTS_FILE = 'segments.json';

/** Append this process's start; returns every start so far, oldest first. */
export function recordSegmentStart(dir: string, now: Date): string[] {
  const starts = [...readStarts(dir), now.toISOString()];
  writeJsonAtomic(join(dir, SEGMENTS_FILE), { starts });
  return starts;
}

function readStarts(dir: string): string[] {
  const path = join(dir, SEGMENTS_FILE);
  if (!existsSync(path)) return [];
  const starts = (JSON.parse(readFileSync(path, 'utf8')) as { starts?: unknown }).starts;
  if (!Array.isArray(starts) || !starts.every((s) => typeof s === 'string')) throw new Error(`${path}: 'starts' must be a list of ISO times`);
  return starts;
}
