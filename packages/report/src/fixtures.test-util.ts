/**
 * Test fixtures: a runs root with result.json files in the reproduce layout
 * (runs/<profile>/<dataset>/<model>/f<ratio>/s<seed>/), tiny qualitative PNGs made with sharp,
 * and a log.jsonl. Per-image Dice values are given by the test; the file's test.dice is their mean.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import type { RunResult, SemiSupervisedInfo } from '@lvit-bench/core';

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
  /** Semi-supervised runs: written as result.semi, and their curves get diceBCE / pseudo / lv terms. */
  semi?: SemiSupervisedInfo;
  /** Written as result.pretrained (TransUNet: which weights training started from). */
  pretrained?: string;
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
  const usesText = r.model === 'lvit-t' || r.model.startsWith('lvit-t+');
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
      ...(r.semi ? { terms: { diceBCE: 0.6 / epoch, pseudo: 0.4 / epoch, ...(r.semi.lv ? { lv: 0.05 / epoch } : {}) } } : {}),
    })),
    qualitative,
    ...(r.semi ? { semi: r.semi } : {}),
    ...(r.pretrained ? { pretrained: r.pretrained } : {}),
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

/** result.semi of a fixture run: defaults are the paper's method (soft targets, per-iteration EMA, LV on). */
export function semiInfo(
  base: string,
  dataset: string,
  fraction: number,
  seed: number,
  opts: { target?: 'soft' | 'binary'; update?: 'iteration' | 'epoch'; lv?: boolean; profile?: string } = {},
): SemiSupervisedInfo {
  const bank = dataset === 'qata' ? ('official-contrastive-labels' as const) : ('labeled-images' as const);
  return {
    baseModel: base,
    prototypeRunId: `${opts.profile ?? 'quick'}/${dataset}/${base}/f${fraction}/s${seed}`,
    prototypeCheckpoint: `../../../${base}/f${fraction}/s${seed}/best.ckpt`,
    labeledImages: 2,
    unlabeledImages: 6,
    epi: { beta: 0.99, target: opts.target ?? 'soft', update: opts.update ?? 'iteration', weight: 1 },
    lv: opts.lv === false ? null : { weight: 0.1, textVector: 'mean', bank, bankSize: bank === 'labeled-images' ? 2 : 14 },
  };
}

const q = (dataset: string, model: string, fraction: number, seed: number, perImageDice: number[], semi?: SemiSupervisedInfo): FixtureRun => ({
  profile: 'quick',
  reduced: true,
  dataset,
  model,
  labelFraction: fraction,
  seed,
  perImageDice,
  semi,
});

/**
 * Semi-supervised fixture: on MoNuSeg (quick), 3 seeds of supervised U-Net / LViT-T / LViT-TW at 25%
 * and every semi variant paired with them (LViT-T + EPI + LV also at 50%); on QaTa a single seed of
 * LViT-T, U-Net and their semi variants at 25%.
 */
export const SEMI_RUNS: FixtureRun[] = [
  ...[1, 2, 3].flatMap((s) => {
    const d = 0.01 * s;
    return [
      q('monuseg', 'unet', 25, s, [0.6 + d, 0.62, 0.58]),
      q('monuseg', 'unet+epi', 25, s, [0.61 + 2 * d, 0.63, 0.6], semiInfo('unet', 'monuseg', 25, s, { lv: false })),
      q('monuseg', 'lvit-tw', 25, s, [0.62 + d, 0.6, 0.61]),
      q('monuseg', 'lvit-tw+epi', 25, s, [0.63 + d, 0.6, 0.6], semiInfo('lvit-tw', 'monuseg', 25, s, { lv: false })),
      q('monuseg', 'lvit-t', 25, s, [0.64 + d, 0.62, 0.6]),
      q('monuseg', 'lvit-t+epi', 25, s, [0.66 + d, 0.63, 0.62 - d], semiInfo('lvit-t', 'monuseg', 25, s, { lv: false })),
      q('monuseg', 'lvit-t+epi+lv', 25, s, [0.8 + d, 0.78, 0.79 + d], semiInfo('lvit-t', 'monuseg', 25, s)),
      q('monuseg', 'lvit-t+epi-binary+lv', 25, s, [0.7 + 2 * d, 0.72, 0.7], semiInfo('lvit-t', 'monuseg', 25, s, { target: 'binary' })),
      q('monuseg', 'lvit-t+epi-epoch+lv', 25, s, [0.75, 0.74 - d, 0.76], semiInfo('lvit-t', 'monuseg', 25, s, { update: 'epoch' })),
      q('monuseg', 'lvit-t', 50, s, [0.7 + d, 0.69, 0.71]),
      q('monuseg', 'lvit-t+epi+lv', 50, s, [0.72 + d, 0.7 - d, 0.71], semiInfo('lvit-t', 'monuseg', 50, s)),
    ];
  }),
  q('qata', 'unet', 25, 1, [0.55, 0.6, 0.65]),
  q('qata', 'unet+epi', 25, 1, [0.58, 0.6, 0.66], semiInfo('unet', 'qata', 25, 1, { lv: false })),
  q('qata', 'lvit-t', 25, 1, [0.6, 0.62, 0.64]),
  q('qata', 'lvit-t+epi+lv', 25, 1, [0.66, 0.64, 0.68], semiInfo('lvit-t', 'qata', 25, 1)),
];
