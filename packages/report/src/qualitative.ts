import { existsSync, mkdirSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import sharp from 'sharp';
import type { LoadedRun } from './load.js';
import { slug } from './load.js';
import { compareModels, datasetLabel, resultModelLabel } from './published.js';
import { compareDatasets, groupRuns } from './tables.js';

/** One picture in the panel: `src` is relative to the site root. */
export interface QualTile {
  label: string;
  src: string | null;
  /** Why there is no picture, when `src` is null. */
  missing?: string;
  /** Per-image test Dice of this run on this image, in %. */
  dice?: number;
  anchor?: string;
}

export interface QualImage {
  id: string;
  text: string;
  tiles: QualTile[];
}

export interface QualPanel {
  dataset: string;
  datasetLabel: string;
  profile: string;
  reduced: boolean;
  images: QualImage[];
}

type Rgb = [number, number, number];
const GT_COLOR: Rgb = [0, 200, 70];
const PRED_COLOR: Rgb = [235, 30, 120];

/**
 * Compose the qualitative panels: for each dataset and profile, up to `maxImages` fixed test images
 * (the ids the runs saved, in sorted order), each shown as the image, the ground truth overlay, and
 * one prediction overlay per model and label ratio (the group's lowest seed). Overlays are written
 * as PNGs under `<siteDir>/assets/qual/`.
 */
export async function buildQualitativePanels(
  runs: readonly LoadedRun[],
  siteDir: string,
  opts: { maxImages?: number } = {},
): Promise<{ panels: QualPanel[]; warnings: string[] }> {
  const maxImages = opts.maxImages ?? 4;
  const warnings: string[] = [];
  const panels: QualPanel[] = [];
  const keys = [...new Set(runs.map((r) => `${r.result.dataset}|${r.result.profile.name}`))].sort((a, b) => {
    const [da, pa] = a.split('|');
    const [db, pb] = b.split('|');
    return compareDatasets(da, db) || pa.localeCompare(pb);
  });
  for (const key of keys) {
    const [dataset, profile] = key.split('|');
    const subset = runs.filter((r) => r.result.dataset === dataset && r.result.profile.name === profile);
    const representatives = [...groupRuns(subset).values()]
      .map((members) => members[0])
      .sort((a, b) => compareModels(a.result.model, b.result.model) || a.labelPercent - b.labelPercent);
    const ids = pickImageIds(representatives, maxImages);
    if (ids.length === 0) continue;
    const images: QualImage[] = [];
    for (const id of ids) images.push(await composeImage(id, representatives, siteDir, `assets/qual/${slug(dataset)}/${slug(profile)}`, warnings));
    panels.push({ dataset, datasetLabel: datasetLabel(dataset), profile, reduced: subset.some((r) => r.result.profile.reduced), images });
  }
  return { panels, warnings };
}

/** The ids most runs saved (the pipeline saves the same fixed ids for every run), sorted. */
function pickImageIds(runs: readonly LoadedRun[], maxImages: number): string[] {
  const counts = new Map<string, number>();
  for (const run of runs) for (const q of run.result.qualitative) counts.set(q.id, (counts.get(q.id) ?? 0) + 1);
  return [...counts.entries()]
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .slice(0, maxImages)
    .map(([id]) => id)
    .sort();
}

async function composeImage(id: string, runs: readonly LoadedRun[], siteDir: string, base: string, warnings: string[]): Promise<QualImage> {
  const dir = `${base}/${slug(id) || 'image'}`;
  const withId = runs.filter((r) => r.result.qualitative.some((q) => q.id === id));
  const source = withId[0];
  const q0 = source.result.qualitative.find((q) => q.id === id)!;
  const tiles: QualTile[] = [];
  let background: RawImage | null = null;
  let groundTruth: Uint8Array | null = null;
  try {
    background = await readRgb(resolve(dirname(source.file), q0.image));
    tiles.push({ label: 'Image', src: await writePng(siteDir, `${dir}/image.png`, background) });
  } catch (err) {
    warnings.push(`qualitative image ${id}: ${(err as Error).message}`);
    tiles.push({ label: 'Image', src: null, missing: 'image file missing or unreadable' });
  }
  if (background) {
    try {
      groundTruth = await readMask(resolve(dirname(source.file), q0.groundTruth), background.width, background.height);
      const gtOverlay = overlay(background, [{ mask: groundTruth, color: GT_COLOR, fill: 0.45, outline: true }]);
      tiles.push({ label: 'Ground truth', src: await writePng(siteDir, `${dir}/gt.png`, gtOverlay) });
    } catch (err) {
      warnings.push(`qualitative ground truth ${id}: ${(err as Error).message}`);
      tiles.push({ label: 'Ground truth', src: null, missing: 'ground-truth file missing or unreadable' });
    }
  }
  for (const run of runs) {
    const r = run.result;
    const label = `${resultModelLabel(r)} · ${run.labelPercent}% · seed ${r.seed}`;
    const q = r.qualitative.find((x) => x.id === id);
    const score = r.test.perImage.find((p) => p.id === id);
    const common = { label, anchor: run.anchor, dice: score ? 100 * score.dice : undefined };
    if (!q || !background) {
      tiles.push({ ...common, src: null, missing: q ? 'no background image' : 'this run saved no prediction for this image' });
      continue;
    }
    try {
      const pred = await readMask(resolve(dirname(run.file), q.prediction), background.width, background.height);
      const layers: OverlayLayer[] = [{ mask: pred, color: PRED_COLOR, fill: 0.5, outline: true }];
      if (groundTruth) layers.push({ mask: groundTruth, color: GT_COLOR, fill: 0, outline: true });
      tiles.push({ ...common, src: await writePng(siteDir, `${dir}/pred-${slug(`${r.model}-f${run.labelPercent}-s${r.seed}`)}.png`, overlay(background, layers)) });
    } catch (err) {
      warnings.push(`qualitative prediction ${id} of ${r.runId}: ${(err as Error).message}`);
      tiles.push({ ...common, src: null, missing: 'prediction file missing or unreadable' });
    }
  }
  return { id, text: q0.text, tiles };
}

interface RawImage {
  width: number;
  height: number;
  /** RGB, row-major. */
  data: Uint8Array;
}

interface OverlayLayer {
  mask: Uint8Array;
  color: Rgb;
  /** Opacity of the fill; 0 draws only the outline. */
  fill: number;
  outline: boolean;
}

async function readRgb(path: string): Promise<RawImage> {
  if (!existsSync(path)) throw new Error(`${path} does not exist`);
  const { data, info } = await sharp(path).removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
  const pixels = info.width * info.height;
  const rgb = new Uint8Array(pixels * 3);
  for (let p = 0; p < pixels; p++) {
    for (let k = 0; k < 3; k++) rgb[p * 3 + k] = data[p * info.channels + (info.channels >= 3 ? k : 0)];
  }
  return { width: info.width, height: info.height, data: rgb };
}

/** A binary mask (1 where the PNG is > 127), resized with nearest neighbour to the image size. */
async function readMask(path: string, width: number, height: number): Promise<Uint8Array> {
  if (!existsSync(path)) throw new Error(`${path} does not exist`);
  const { data, info } = await sharp(path)
    .removeAlpha()
    .greyscale()
    .resize(width, height, { kernel: 'nearest', fit: 'fill' })
    .raw()
    .toBuffer({ resolveWithObject: true });
  const mask = new Uint8Array(width * height);
  for (let p = 0; p < mask.length; p++) mask[p] = data[p * info.channels] > 127 ? 1 : 0;
  return mask;
}

/** Blend mask fills over the image and draw mask outlines (4-neighbour boundary) in full colour. */
export function overlay(image: RawImage, layers: readonly OverlayLayer[]): RawImage {
  const { width: w, height: h } = image;
  const out = Uint8Array.from(image.data);
  for (const layer of layers) {
    const edge = layer.outline ? boundary(layer.mask, w, h) : null;
    for (let p = 0; p < w * h; p++) {
      const alpha = edge?.[p] ? 1 : layer.mask[p] ? layer.fill : 0;
      if (alpha === 0) continue;
      for (let k = 0; k < 3; k++) out[p * 3 + k] = Math.round(out[p * 3 + k] * (1 - alpha) + layer.color[k] * alpha);
    }
  }
  return { width: w, height: h, data: out };
}

/** Mask pixels with at least one 4-neighbour outside the mask (or on the image border). */
export function boundary(mask: Uint8Array, w: number, h: number): Uint8Array {
  const edge = new Uint8Array(w * h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const p = y * w + x;
      if (!mask[p]) continue;
      const inside = (xx: number, yy: number) => xx >= 0 && yy >= 0 && xx < w && yy < h && mask[yy * w + xx] === 1;
      if (!inside(x - 1, y) || !inside(x + 1, y) || !inside(x, y - 1) || !inside(x, y + 1)) edge[p] = 1;
    }
  }
  return edge;
}

async function writePng(siteDir: string, rel: string, image: RawImage): Promise<string> {
  const path = join(siteDir, rel);
  mkdirSync(dirname(path), { recursive: true });
  const png = await sharp(Buffer.from(image.data), { raw: { width: image.width, height: image.height, channels: 3 } })
    .png()
    .toBuffer();
  await writeFile(path, png);
  return rel;
}
