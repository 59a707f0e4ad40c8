/**
 * Test fixtures: a runs root with result.json files in the reproduce layout
 * (runs/<profile>/<dataset>/<model>/f<ratio>/s<seed>/), tiny qualitative PNGs made with sharp,
 * and a log.jsonl. Per-image Dice values are given by the test; the file's test.dice is their mean.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import type { RunResult } from '@lvit-bench/core';

export interface FixtureRun {
  profile: string;
  reduced: boolean;
  dataset: string;
  model: string;
  labelFraction: number;
  seed: number;
  /** Per-image test Dice (fractions); IoU is derived as d / (2 - d). */
  perImageDice: number[];
  wallTimeSec?: number;
  textEncoderSubstitute?: boolean;
}

export const IMAGE_IDS = ['img_a.png', 'img_b.png', 'img_c.png'];
const SIZE = 16;

export function runDir(root: string, r: FixtureRun): string {
  return join(root, r.profile, r.dataset, r.model, `f${r.labelFraction}`, `s${r.seed}`);
}

export async function writeFixtureRuns(root: string, runs: readonly FixtureRun[]): Promise<string[]> {
  const files: string[] = [];
  for (const r of runs) files.push(await writeFixtureRun(root, r));
  return files;
}

export async function writeFixtureRun(root: string, r: FixtureRun): Promise<string> {
  const dir = runDir(root, r);
  mkdirSync(join(dir, 'qual'), { recursive: true });
  const qualitative: RunResult['qualitative'] = [];
  for (const [i, id] of IMAGE_IDS.slice(0, 2).entries()) {
    const stem = id.replace(/\.png$/, '');
    const files = { image: `qual/${stem}.image.png`, groundTruth: `qual/${stem}.gt.png`, prediction: `qual/${stem}.pred.png` };
    await writeRgb(join(dir, files.image), (x, y) => [40 + 10 * x, 60 + 8 * y, 120]);
    await writeMask(join(dir, files.groundTruth), (x, y) => x >= 4 && x < 12 && y >= 4 && y < 12);
    const shift = (r.seed + i) % 3;
    await writeMask(join(dir, files.prediction), (x, y) => x >= 4 + shift && x < 12 + shift && y >= 3 && y < 11);
    qualitative.push({ id, text: `Bilateral pulmonary infection, ${i + 2} infected areas <b>&amp;</b>`, ...files });
  }
  const perImage = r.perImageDice.map((dice, i) => ({ id: IMAGE_IDS[i % IMAGE_IDS.length] + (i >= IMAGE_IDS.length ? `#${i}` : ''), dice, iou: dice / (2 - dice) }));
  const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
  const usesText = r.model === 'lvit-t';
  const result: RunResult = {
    schema: 'lvit-bench/run@1',
    runId: `${r.profile}/${r.dataset}/${r.model}/f${r.labelFraction}/s${r.seed}`,
    model: r.model,
    modelConfig: { baseChannels: 8 },
    paramCount: r.model === 'unet' ? 123_456 : 234_567,
    macsPerImage: r.model === 'unet' ? 1.5e8 : 2.5e8,
    dataset: r.dataset,
    labelFraction: r.labelFraction,
    seed: r.seed,
    profile: { name: r.profile, reduced: r.reduced, description: r.reduced ? 'Fixture: tiny reduced profile.' : 'Fixture: paper settings.' },
    train: { epochsRun: 3, maxEpochs: 3, batchSize: 2, imageSize: SIZE, trainImages: 8, labeledImages: 8, earlyStopped: false },
    provenance: {
      backend: 'cpu',
      backendDetail: 'tfjs cpu 4.22.0',
      device: 'fixture CPU',
      gitCommit: 'abc1234def5678',
      gitDirty: r.seed === 2,
      dataManifestHash: 'sha256:feedface',
      labelManifest: 'labels.json',
      textEncoder: usesText
        ? { name: 'use-lite', dim: 512, pretrained: true, substitute: r.textEncoderSubstitute ?? true, description: 'fixture encoder' }
        : null,
      node: 'v20.0.0',
      startedAt: '2026-01-01T00:00:00.000Z',
      finishedAt: '2026-01-01T00:10:00.000Z',
      wallTimeSec: r.wallTimeSec ?? 60 + 10 * r.seed,
    },
    val: { bestDice: 0.5, bestEpoch: 3 },
    test: { dice: mean(perImage.map((p) => p.dice)), iou: mean(perImage.map((p) => p.iou)), n: perImage.length, perImage },
    curves: [1, 2, 3].map((epoch) => ({
      epoch,
      trainLoss: 1 / (epoch + r.seed),
      valDice: 0.2 * epoch,
      valIoU: 0.15 * epoch,
      lr: 1e-3,
      timeSec: 1,
    })),
    qualitative,
  };
  writeFileSync(join(dir, 'result.json'), JSON.stringify(result, null, 2));
  writeFileSync(join(dir, 'log.jsonl'), JSON.stringify({ epoch: 1, trainLoss: 0.5 }) + '\n');
  return join(dir, 'result.json');
}

async function writeRgb(path: string, pixel: (x: number, y: number) => [number, number, number]): Promise<void> {
  const data = Buffer.alloc(SIZE * SIZE * 3);
  for (let y = 0; y < SIZE; y++) for (let x = 0; x < SIZE; x++) data.set(pixel(x, y), (y * SIZE + x) * 3);
  await sharp(data, { raw: { width: SIZE, height: SIZE, channels: 3 } }).png().toFile(path);
}

async function writeMask(path: string, inside: (x: number, y: number) => boolean): Promise<void> {
  const data = Buffer.alloc(SIZE * SIZE);
  for (let y = 0; y < SIZE; y++) for (let x = 0; x < SIZE; x++) data[y * SIZE + x] = inside(x, y) ? 255 : 0;
  await sharp(data, { raw: { width: SIZE, height: SIZE, channels: 1 } }).png().toFile(path);
}

/** The standard fixture: two models × two seeds on MoNuSeg (smoke, reduced) plus one single-seed LViT-TW run. */
export const STANDARD_RUNS: FixtureRun[] = [
  { profile: 'smoke', reduced: true, dataset: 'monuseg', model: 'unet', labelFraction: 100, seed: 1, perImageDice: [0.7, 0.74, 0.66] },
  { profile: 'smoke', reduced: true, dataset: 'monuseg', model: 'unet', labelFraction: 100, seed: 2, perImageDice: [0.72, 0.69, 0.75] },
  { profile: 'smoke', reduced: true, dataset: 'monuseg', model: 'lvit-t', labelFraction: 100, seed: 1, perImageDice: [0.78, 0.81, 0.76] },
  { profile: 'smoke', reduced: true, dataset: 'monuseg', model: 'lvit-t', labelFraction: 100, seed: 2, perImageDice: [0.8, 0.77, 0.79] },
  { profile: 'smoke', reduced: true, dataset: 'monuseg', model: 'lvit-tw', labelFraction: 50, seed: 1, perImageDice: [0.6, 0.65, 0.7] },
];
