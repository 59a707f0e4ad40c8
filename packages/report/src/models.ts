/**
 * Trained models on the site: each comparison row links the ONNX file (`lvit export`) of one of its
 * seeds, copied into assets/models/ with its size and sha256.
 */
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { LoadedRun } from './load.js';
import { groupAnchorOf, groupRuns } from './tables.js';

/** Where `lvit export` (and reproduce) put a run's model. */
export const MODEL_FILE = 'model.onnx';

/**
 * Next to a text model's file: its run's test-image sentences as the model's text features, so a
 * page can run LViT-T without its text encoder (`lvit export` writes it).
 */
export interface BundledTextFeatures {
  format: 'lvit-bench/text-features@1';
  encoder: string;
  shape: [number, number];
  /** Per qualitative test image: its sentence and [T*D] float32 features, little-endian, base64. */
  sentences: { id: string; text: string; features: string }[];
}

export function textFeaturesFileOf(modelFile: string): string {
  return modelFile.replace(/\.onnx$/, '') + '.text.json';
}

export interface ModelDownload {
  /** Path in the site. */
  href: string;
  runId: string;
  seed: number;
  bytes: number;
  sha256: string;
}

/**
 * The seed a row publishes: the best validation Dice (the checkpoint selection criterion; the test
 * score never picks), the lowest seed on a tie.
 */
export function publishedSeedOf(members: readonly LoadedRun[]): LoadedRun {
  if (members.length === 0) throw new Error('models.ts: publishedSeedOf needs at least one run');
  return [...members].sort((a, b) => b.result.val.bestDice - a.result.val.bestDice || a.result.seed - b.result.seed)[0];
}

export function modelFileOf(run: LoadedRun): string {
  return join(dirname(run.file), MODEL_FILE);
}

/** Copies each row's published model into `siteDir`; rows whose chosen seed has no export get none. Keyed by group anchor. */
export function copyModelDownloads(runs: readonly LoadedRun[], siteDir: string): Map<string, ModelDownload> {
  const downloads = new Map<string, ModelDownload>();
  for (const members of groupRuns(runs).values()) {
    const run = publishedSeedOf(members);
    const source = modelFileOf(run);
    if (!existsSync(source)) continue;
    const anchor = groupAnchorOf(run);
    const href = `assets/models/${anchor}.onnx`;
    mkdirSync(join(siteDir, 'assets', 'models'), { recursive: true });
    copyFileSync(source, join(siteDir, href));
    const sha256 = createHash('sha256').update(readFileSync(source)).digest('hex');
    downloads.set(anchor, { href, runId: run.result.runId, seed: run.result.seed, bytes: statSync(source).size, sha256 });
  }
  return downloads;
}
