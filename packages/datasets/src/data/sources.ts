/**
 * Shared pieces of the two on-disk layouts: the per-sample source record, folder listings,
 * manifest handling and the seeded per-split subset used by the reduced profiles.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, extname, join, relative } from 'node:path';
import { Rng } from '@lvit-bench/core';
import type { SplitName } from './prepared.js';

export type DatasetName = 'monuseg' | 'qata';

/** One sample before decoding. */
export interface SourceSample {
  id: string;
  imagePath: string;
  maskPath: string;
  text: string;
}

export interface SourceListing {
  /** The folder the relative paths in manifests are taken from. */
  datasetDir: string;
  splits: Record<SplitName, SourceSample[]>;
  /** Extra files read (text tables), for the content manifest and the cache key. */
  auxFiles: string[];
  /** `MANIFEST.sha256` (path -> sha256), when the folder has one. */
  manifest?: { path: string; text: string; entries: Map<string, string> };
  notes: string[];
}

export const IMAGE_EXTENSIONS = new Set(['.png', '.tif', '.tiff', '.jpg', '.jpeg', '.bmp']);

/** The file name without its extension: the sample id used across layouts. */
export function stem(fileName: string): string {
  return basename(fileName, extname(fileName));
}

/** Plain code-unit order, independent of locale. */
export function byCodeUnit(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function isImageFileName(name: string): boolean {
  return !name.startsWith('.') && IMAGE_EXTENSIONS.has(extname(name).toLowerCase());
}

/**
 * Names of the image files in `dir`, sorted; a clear error if the folder is missing. Other files
 * (README.txt, Thumbs.db, .DS_Store, AppleDouble `._x.png`) are not samples: they are skipped and
 * named in a note pushed to `notes`, so they neither fail the load nor vanish unmentioned.
 */
export function listImageFiles(dir: string, what: string, notes: string[]): string[] {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new Error(`${dir}: missing ${what} folder`);
  const files = readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => e.name)
    .sort(byCodeUnit);
  const others = files.filter((f) => !isImageFileName(f));
  if (others.length > 0) {
    const shown = others.length > 5 ? [...others.slice(0, 5), `... (${others.length - 5} more)`] : others;
    notes.push(
      `${dir}: ignored ${others.length} file(s) that are not images: ${shown.join(', ')} ` +
        `(images are ${[...IMAGE_EXTENSIONS].join(', ')}, not hidden).`,
    );
  }
  return files.filter(isImageFileName);
}

export function readManifest(datasetDir: string): SourceListing['manifest'] {
  const path = join(datasetDir, 'MANIFEST.sha256');
  if (!existsSync(path)) return undefined;
  const text = readFileSync(path, 'utf8');
  const entries = new Map<string, string>();
  text.split('\n').forEach((line, k) => {
    if (line.trim() === '') return;
    const m = /^([0-9a-f]{64}) [ *](.+)$/.exec(line);
    if (!m) throw new Error(`${path}: line ${k + 1} is not "<sha256>  <path>"`);
    entries.set(m[2], m[1]);
  });
  return { path, text, entries };
}

export function sha256Hex(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** All files a listing reads, relative to its dataset folder, sorted. */
export function listingFiles(listing: SourceListing): string[] {
  const files = new Set<string>(listing.auxFiles);
  for (const split of Object.values(listing.splits)) {
    for (const s of split) {
      files.add(s.imagePath);
      files.add(s.maskPath);
    }
  }
  return [...files].map((f) => relative(listing.datasetDir, f)).sort(byCodeUnit);
}

/** A cheap identity of the input files: sha256 over "path size mtime" lines. */
export function statKey(listing: SourceListing): string {
  const lines = listingFiles(listing).map((rel) => {
    const st = statSync(join(listing.datasetDir, rel));
    return `${rel} ${st.size} ${Math.round(st.mtimeMs)}`;
  });
  return sha256Hex(lines.join('\n'));
}

/**
 * Seeded subset of one split for the reduced profiles: shuffle the id-sorted list with a generator
 * derived from (seed, dataset, split), take the first `limit`, keep them in id order.
 */
export function limitSamples(samples: SourceSample[], limit: number | undefined, seed: number, dataset: string, split: SplitName): SourceSample[] {
  if (limit === undefined) return samples;
  if (!Number.isInteger(limit) || limit <= 0) throw new Error(`limits.${split} must be a positive integer, got ${limit}`);
  if (limit >= samples.length) return samples;
  const sorted = [...samples].sort((a, b) => byCodeUnit(a.id, b.id));
  const chosen = Rng.derive(seed, `limit:${dataset}:${split}`).shuffle(sorted).slice(0, limit);
  return chosen.sort((a, b) => byCodeUnit(a.id, b.id));
}

/** Throw if a split has no samples, naming where they were looked for. */
export function requireNonEmpty(listing: SourceListing, where: Record<SplitName, string>): void {
  for (const split of ['train', 'val', 'test'] as const) {
    if (listing.splits[split].length === 0) throw new Error(`${where[split]}: split ${split} has no samples`);
  }
}

/** Throw if two samples of a split share an id (ids are file stems). */
export function requireUniqueIds(samples: SourceSample[], where: string): void {
  const seen = new Map<string, string>();
  for (const s of samples) {
    const prev = seen.get(s.id);
    if (prev !== undefined) throw new Error(`${where}: ${prev} and ${s.imagePath} have the same id "${s.id}"`);
    seen.set(s.id, s.imagePath);
  }
}
