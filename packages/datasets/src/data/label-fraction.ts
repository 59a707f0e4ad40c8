/**
 * Label fractions for the semi-supervised rows (LVIT.md §2.2: 25 % / 50 % / 100 %). The labelled
 * subset is a fixed-seed draw; every result references a manifest listing exactly which ids had
 * labels, with a sha256 so the reference can be checked.
 */
import { readFileSync } from 'node:fs';
import { Rng, writeFileAtomic, type ImageSample, type SegSample, type SegSplit } from '@lvit-bench/core';
import { byCodeUnit, sha256Hex } from './sources.js';

export const LABEL_MANIFEST_SCHEMA = 'lvit-bench/labels@1';

/**
 * Draw round-down(fraction * n) ids (at least 1) as labelled with a generator seeded by `seed`;
 * fraction 1 labels all. The draw depends on the set of ids, not their order. Both lists come
 * back in id order.
 */
export function drawLabeledSubset(ids: readonly string[], fraction: number, seed: number): { labeled: string[]; unlabeled: string[] } {
  if (!(fraction > 0 && fraction <= 1)) throw new Error(`label fraction must be in (0, 1], got ${fraction}`);
  if (new Set(ids).size !== ids.length) throw new Error('drawLabeledSubset: ids contain duplicates');
  const sorted = [...ids].sort(byCodeUnit);
  if (fraction === 1) return { labeled: sorted, unlabeled: [] };
  // 1e-9 guards products like 0.29 * 100 = 28.999999999999996.
  const n = Math.max(1, Math.floor(fraction * sorted.length + 1e-9));
  const chosen = new Set(Rng.derive(seed, 'label-fraction').shuffle([...sorted]).slice(0, n));
  return { labeled: sorted.filter((id) => chosen.has(id)), unlabeled: sorted.filter((id) => !chosen.has(id)) };
}

export interface LabelManifest {
  schema: typeof LABEL_MANIFEST_SCHEMA;
  dataset: string;
  fraction: number;
  seed: number;
  labeled: string[];
  unlabeled: string[];
  /** sha256 of the labelled ids sorted in code-unit order and joined with '\n'. */
  labeledSha256: string;
}

export function labeledIdsSha256(labeled: readonly string[]): string {
  return sha256Hex([...labeled].sort(byCodeUnit).join('\n'));
}

/** Build the manifest for a draw over `ids`. */
export function makeLabelManifest(dataset: string, ids: readonly string[], fraction: number, seed: number): LabelManifest {
  const { labeled, unlabeled } = drawLabeledSubset(ids, fraction, seed);
  return { schema: LABEL_MANIFEST_SCHEMA, dataset, fraction, seed, labeled, unlabeled, labeledSha256: labeledIdsSha256(labeled) };
}

/** Write a label manifest atomically (sha recomputed from `labeled`); returns what was written. */
export function writeLabelManifest(
  path: string,
  info: Omit<LabelManifest, 'schema' | 'labeledSha256'> & Partial<Pick<LabelManifest, 'schema' | 'labeledSha256'>>,
): LabelManifest {
  const overlap = info.labeled.filter((id) => new Set(info.unlabeled).has(id));
  if (overlap.length > 0) throw new Error(`${path}: ids both labelled and unlabelled: ${overlap.slice(0, 5).join(', ')}`);
  const manifest: LabelManifest = {
    schema: LABEL_MANIFEST_SCHEMA,
    dataset: info.dataset,
    fraction: info.fraction,
    seed: info.seed,
    labeled: [...info.labeled],
    unlabeled: [...info.unlabeled],
    labeledSha256: labeledIdsSha256(info.labeled),
  };
  writeFileAtomic(path, JSON.stringify(manifest, null, 1) + '\n');
  return manifest;
}

/** Read a label manifest and check its schema and checksum. */
export function readLabelManifest(path: string): LabelManifest {
  let m: LabelManifest;
  try {
    m = JSON.parse(readFileSync(path, 'utf8')) as LabelManifest;
  } catch (err) {
    throw new Error(`${path}: cannot read label manifest (${(err as Error).message})`);
  }
  if (m.schema !== LABEL_MANIFEST_SCHEMA) throw new Error(`${path}: schema ${String(m.schema)}, expected ${LABEL_MANIFEST_SCHEMA}`);
  if (!Array.isArray(m.labeled) || !Array.isArray(m.unlabeled)) throw new Error(`${path}: labeled/unlabeled must be arrays`);
  if (labeledIdsSha256(m.labeled) !== m.labeledSha256) throw new Error(`${path}: labeledSha256 does not match the labeled ids`);
  return m;
}

/** A view of `split` with only `ids`, in the given order; unknown ids are an error. */
export function subsetSplit(split: SegSplit, ids: readonly string[]): SegSplit {
  const indexOf = new Map<string, number>();
  split.ids.forEach((id, i) => indexOf.set(id, i));
  const indices = ids.map((id) => {
    const i = indexOf.get(id);
    if (i === undefined) throw new Error(`subsetSplit: id "${id}" is not in ${split.dataset}/${split.split}`);
    return i;
  });
  const sourceIndex = (index: number): number => {
    if (!Number.isInteger(index) || index < 0 || index >= indices.length) {
      throw new Error(`${split.dataset}/${split.split} subset: sample index ${index} out of range [0, ${indices.length})`);
    }
    return indices[index];
  };
  return {
    dataset: split.dataset,
    split: split.split,
    size: indices.length,
    height: split.height,
    width: split.width,
    channels: split.channels,
    ids: [...ids],
    sample: (index: number): SegSample => split.sample(sourceIndex(index)),
    image: (index: number): ImageSample => split.image(sourceIndex(index)),
    text: (index: number): string => split.text(sourceIndex(index)),
  };
}
