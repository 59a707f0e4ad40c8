/**
 * A tiny deterministic dataset for fast tests and smoke runs: dark noisy images with 1-3 bright
 * discs or squares in one quadrant, and a sentence that states the count and the quadrant
 * ("Two nuclei in the upper left."), so a text-guided model has something real to learn from text.
 */
import { Rng } from '@lvit-bench/core';
import { datasetFromContent, packMaskBits, SPLIT_NAMES, type PreparedDataset, type SplitArrays, type SplitName } from './prepared.js';
import { sha256Hex } from './sources.js';

export interface SyntheticOptions {
  /** Square image side in pixels (>= 8). */
  size: number;
  counts?: { train: number; val: number; test: number };
  seed: number;
}

const DEFAULT_COUNTS = { train: 16, val: 4, test: 8 };
const REGIONS = [
  { name: 'upper left', row: 0, col: 0 },
  { name: 'upper right', row: 0, col: 1 },
  { name: 'lower left', row: 1, col: 0 },
  { name: 'lower right', row: 1, col: 1 },
] as const;
const COUNT_WORDS = ['One', 'Two', 'Three'];

interface Shape {
  r: number;
  c: number;
  radius: number;
  square: boolean;
}

function inside(shape: Shape, y: number, x: number): boolean {
  const dy = y - shape.r;
  const dx = x - shape.c;
  return shape.square ? Math.abs(dy) <= shape.radius && Math.abs(dx) <= shape.radius : dy * dy + dx * dx <= shape.radius * shape.radius;
}

/** Place up to `count` separated shapes inside one quadrant (fewer if the quadrant is too small). */
function placeShapes(rng: Rng, size: number, region: (typeof REGIONS)[number], count: number): Shape[] {
  const half = Math.floor(size / 2);
  const radius = Math.max(1, Math.floor(size / 14));
  const lo = radius;
  const hi = half - 1 - radius; // centre range within the quadrant, shapes stay inside it
  const shapes: Shape[] = [];
  for (let attempt = 0; shapes.length < count && attempt < 200; attempt++) {
    const r = region.row * half + lo + rng.int(Math.max(1, hi - lo + 1));
    const c = region.col * half + lo + rng.int(Math.max(1, hi - lo + 1));
    const clear = shapes.every((s) => Math.max(Math.abs(s.r - r), Math.abs(s.c - c)) > 2 * radius + 1);
    if (clear) shapes.push({ r, c, radius, square: rng.next() < 0.5 });
  }
  return shapes;
}

function clampByte(v: number): number {
  return Math.max(0, Math.min(255, Math.round(v)));
}

function makeSplit(split: SplitName, n: number, size: number, seed: number): SplitArrays {
  const rng = Rng.derive(seed, `synthetic:${split}`);
  const pixels = size * size;
  const images = new Uint8Array(n * pixels * 3);
  const masks: Uint8Array[] = [];
  const ids: string[] = [];
  const texts: string[] = [];
  for (let k = 0; k < n; k++) {
    const region = REGIONS[rng.int(REGIONS.length)];
    const shapes = placeShapes(rng, size, region, 1 + rng.int(3));
    const count = shapes.length; // the sentence states what was drawn
    const mask = new Uint8Array(pixels);
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        const fg = shapes.some((s) => inside(s, y, x));
        mask[y * size + x] = fg ? 1 : 0;
        // H&E-like tint (BGR): pinkish background, dark-purple-on-bright nuclei; plus noise.
        const base = fg ? [210, 150, 200] : [60, 45, 70];
        const p = (k * pixels + y * size + x) * 3;
        for (let ch = 0; ch < 3; ch++) images[p + ch] = clampByte(base[ch] + (rng.next() - 0.5) * 40);
      }
    }
    masks.push(mask);
    ids.push(`syn-${split}-${String(k).padStart(4, '0')}`);
    texts.push(`${COUNT_WORDS[count - 1]} ${count === 1 ? 'nucleus' : 'nuclei'} in the ${region.name}.`);
  }
  return { split, ids, texts, height: size, width: size, storedChannels: 3, images, maskBits: packMaskBits(masks, pixels), maskFindings: [] };
}

/** A deterministic synthetic PreparedDataset (name 'synthetic'); same options give the same bytes. */
export function makeSyntheticDataset(opts: SyntheticOptions): PreparedDataset {
  const counts = opts.counts ?? DEFAULT_COUNTS;
  if (!Number.isInteger(opts.size) || opts.size < 8) throw new Error(`synthetic size must be an integer >= 8, got ${opts.size}`);
  for (const split of SPLIT_NAMES) {
    if (!Number.isInteger(counts[split]) || counts[split] < 1) throw new Error(`synthetic counts.${split} must be a positive integer, got ${counts[split]}`);
  }
  const settings = { generator: 'synthetic@1', size: opts.size, counts, seed: opts.seed };
  const splits = {} as Record<SplitName, SplitArrays>;
  for (const split of SPLIT_NAMES) splits[split] = makeSplit(split, counts[split], opts.size, opts.seed);
  return datasetFromContent({
    name: 'synthetic',
    manifestHash: sha256Hex(JSON.stringify(settings)),
    settings,
    notes: ['Synthetic data (bright discs/squares, text = count + quadrant); for tests and smoke runs only.'],
    splits,
  });
}
