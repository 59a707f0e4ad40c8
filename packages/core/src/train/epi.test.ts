import * as tf from '@tensorflow/tfjs';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EpiConfig, SegSplit, UnlabeledSplit } from '../types.js';
import { captureModelState, loadCheckpoint } from './checkpoint.js';
import { createEpi, DEFAULT_EPI, emaUpdate, predictUnlabeled, pseudoTarget } from './epi.js';
import { weightedDiceBCE } from './losses.js';
import { runPaths, StepEndContext, TrainOptions, trainModel } from './loop.js';
import { assignContrastiveLabels, createLvLossTerm, DEFAULT_LV } from './lv-loss.js';
import { createRunState } from './state.js';
import { randomHorizontalFlip as flip, syntheticSquaresSplit, TinySegNet } from './synthetic.js';
import { unlabeledView } from './unlabeled.js';

let root: string;
let runs = 0;
beforeAll(async () => {
  await tf.setBackend('cpu');
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'lvit-epi-'));
});
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

const H = 8;
const labeled = syntheticSquaresSplit({ size: 4, height: H, width: H, seed: 1 });
const val = syntheticSquaresSplit({ size: 2, height: H, width: H, seed: 2, split: 'val' });

/** Unlabelled images whose masks exist but must never be read: any mask access throws and is counted. */
function guardedPool(): { split: UnlabeledSplit; maskReads: () => number } {
  const pool = syntheticSquaresSplit({ size: 4, height: H, width: H, seed: 3 });
  let reads = 0;
  const guarded: SegSplit = {
    ...pool,
    sample: () => {
      reads++;
      throw new Error('the mask of an unlabelled image was read');
    },
    image: (i) => pool.image(i),
    text: (i) => pool.text(i),
  };
  return { split: unlabeledView(guarded), maskReads: () => reads };
}

const textShape: [number, number] = [3, 2];
const textFeatures = (s: string) => Float32Array.from({ length: 6 }, (_, i) => ((s.length * (i + 1)) % 7) / 7);

const tinyModel = (seed = 11) => new TinySegNet({ seed, dropout: 0.2, textDim: 2 });

function stage2(unlabeled: UnlabeledSplit, epi: EpiConfig, overrides: Partial<TrainOptions> = {}): TrainOptions {
  const model = tinyModel();
  const { term, hooks } = createEpi(epi, unlabeled, { batchSize: 2, textFeatures, textShape, createTeacher: () => tinyModel(77) });
  const bank = [0, 1].map((i) => ({ id: labeled.ids[i], text: labeled.text(i), mask: labeled.sample(i).mask }));
  const lv = createLvLossTerm(DEFAULT_LV, bank, assignContrastiveLabels(unlabeled, bank, { features: textFeatures, shape: textShape }, 'mean'));
  return {
    model,
    data: { train: labeled, val, unlabeled },
    augment: flip,
    textFeatures,
    textShape,
    batchSize: 2,
    maxEpochs: 3,
    patience: 10,
    lr0: 0.05,
    t0: 3,
    minSaveEpoch: 1,
    seed: 5,
    runDir: path.join(root, `run${runs++}`),
    extraTerms: [term, lv],
    hooks,
    log: () => {},
    ...overrides,
  };
}

const copyAll = (m: Map<string, Float32Array>) => new Map([...m].map(([k, v]) => [k, v.slice()]));

describe('EPI', () => {
  it('EMA update and targets against a hand-computed sequence', () => {
    const p = Float32Array.from([0, 1, 0.5]);
    emaUpdate(p, Float32Array.from([1, 0, 0.5]), 0.9);
    expect(Array.from(p).map((v) => +v.toFixed(6))).toEqual([0.1, 0.9, 0.5]);
    emaUpdate(p, Float32Array.from([1, 0, 1]), 0.9, Uint8Array.from([1, 1, 0]));
    expect(Array.from(p).map((v) => +v.toFixed(6))).toEqual([0.19, 0.81, 0.5]); // the third pixel was not hit
    expect(Array.from(pseudoTarget(Float32Array.from([0.49, 0.5, 0.9]), 'binary'))).toEqual([0, 1, 1]);
    const soft = Float32Array.from([0.49, 0.5]);
    expect(pseudoTarget(soft, 'soft')).toBe(soft);
    expect(() => emaUpdate(p, new Float32Array(2), 0.9)).toThrow(/2 predictions for a 3-pixel/);
    expect(() => createEpi({ ...DEFAULT_EPI, beta: 1 }, guardedPool().split, { batchSize: 1 })).toThrow(/beta must be in \[0, 1\)/);
  });

  it('per iteration: P_0 is the prototype prediction, and each step moves P towards its own prediction mapped back', async () => {
    const { split, maskReads } = guardedPool();
    const opts = stage2(split, { ...DEFAULT_EPI, beta: 0.9 });
    const prototype = await predictUnlabeled(opts.model, split, { batchSize: 4, textFeatures, textShape });
    const original = opts.hooks!.onStepEnd!;
    let checked = 0;
    let flipped = 0;
    let seeded = false;
    opts.hooks!.onStepEnd = (ctx: StepEndContext) => {
      if (!seeded) {
        // Before any update, the state holds exactly the prototype's predictions.
        for (const id of split.ids) expect(Array.from(ctx.state.perImage.get(id)!)).toEqual(Array.from(prototype.get(id)!));
        seeded = true;
      }
      const before = copyAll(ctx.state.perImage);
      original(ctx);
      if (ctx.labeled) {
        expect(ctx.state.perImage).toEqual(before);
        checked += ctx.ids.length;
        return;
      }
      ctx.ids.forEach((id, i) => {
        const pred = ctx.prediction.subarray(i * H * H, (i + 1) * H * H);
        const map = ctx.pixelMaps[i];
        if (map) flipped++;
        const after = ctx.state.perImage.get(id)!;
        for (let y = 0; y < H; y++) {
          for (let x = 0; x < H; x++) {
            const src = y * H + x;
            // The flip is its own inverse: the source pixel (y, x) was shown at (y, H-1-x).
            const shownAt = map ? y * H + (H - 1 - x) : src;
            const want = 0.9 * before.get(id)![src] + 0.1 * pred[shownAt];
            expect(after[src]).toBeCloseTo(want, 6);
          }
        }
        checked++;
      });
      for (const other of split.ids.filter((id) => !ctx.ids.includes(id))) expect(ctx.state.perImage.get(other)).toEqual(before.get(other));
    };
    await trainModel(opts);
    expect(checked).toBe(3 * (labeled.size + split.size)); // every sample of 3 epochs
    expect(flipped).toBeGreaterThan(0);
    expect(maskReads()).toBe(0);
  });

  it("per epoch: P moves once per epoch towards the eval-mode prediction of the un-augmented image", async () => {
    const { split, maskReads } = guardedPool();
    const opts = stage2(split, { ...DEFAULT_EPI, beta: 0.8, update: 'epoch' });
    expect(opts.hooks!.onStepEnd).toBeUndefined();
    const original = opts.hooks!.onEpochEnd!;
    let epochs = 0;
    opts.hooks!.onEpochEnd = async (ctx) => {
      const before = copyAll(ctx.state.perImage);
      const now = await predictUnlabeled(ctx.model, split, { batchSize: 1, textFeatures, textShape });
      await original(ctx);
      for (const id of split.ids) {
        const after = ctx.state.perImage.get(id)!;
        after.forEach((v, i) => expect(v).toBeCloseTo(0.8 * before.get(id)![i] + 0.2 * now.get(id)![i], 6));
      }
      epochs++;
    };
    await trainModel(opts);
    expect(epochs).toBe(3);
    expect(maskReads()).toBe(0);
  });

  it('the pseudo-label term trains against P moved through the image augmentation, soft or binarised', () => {
    const { split } = guardedPool();
    const state = createRunState();
    const ema = Float32Array.from({ length: H * H }, (_, i) => (i % H) / H); // rises left to right
    state.perImage.set(split.ids[0], ema);
    const pred = tf.tensor4d(Float32Array.from({ length: H * H }, (_, i) => 0.2 + 0.6 * ((i * 7) % 11) / 11), [1, H, H, 1]);
    const map = flip(H, H, { next: () => 0.9 } as never)!;
    const ctx = { pred, images: pred, masks: null, text: null, ids: [split.ids[0]], pixelMaps: [map], state };
    const mirrored = Float32Array.from({ length: H * H }, (_, i) => (H - 1 - (i % H)) / H);
    for (const target of ['soft', 'binary'] as const) {
      const { term } = createEpi({ ...DEFAULT_EPI, target }, split, { batchSize: 1 });
      const want = target === 'soft' ? mirrored : mirrored.map((v) => (v >= 0.5 ? 1 : 0));
      const expected = weightedDiceBCE(pred, tf.tensor4d(want, [1, H, H, 1])).dataSync()[0];
      expect(term.compute(ctx).dataSync()[0]).toBeCloseTo(expected, 6);
    }
    expect(() => createEpi(DEFAULT_EPI, split, { batchSize: 1 }).term.compute({ ...ctx, ids: ['nobody'] })).toThrow(/'nobody' has no pseudo-label/);
  });

  it('mean teacher: the teacher follows the student by a weight EMA after every step and its prediction is the target', async () => {
    const { split, maskReads } = guardedPool();
    const opts = stage2(split, { ...DEFAULT_EPI, beta: 0.9, update: 'mean-teacher' });
    const prototype = captureModelState(opts.model);
    const start = opts.hooks!.onEpochStart!;
    const step = opts.hooks!.onStepEnd!;
    let steps = 0;
    opts.hooks!.onEpochStart = async (ctx) => {
      await start(ctx);
      if (ctx.epoch === 1) for (const [k, v] of Object.entries(prototype)) expect(Array.from(ctx.state.arrays.get(`teacher/${k}`)!)).toEqual(Array.from(v.data));
    };
    opts.hooks!.onStepEnd = (ctx) => {
      const before = new Map([...ctx.state.arrays].map(([k, v]) => [k, v.slice()]));
      step(ctx);
      const student = captureModelState(opts.model);
      for (const [k, v] of Object.entries(student)) {
        const after = ctx.state.arrays.get(`teacher/${k}`)!;
        after.forEach((t, i) => expect(t).toBeCloseTo(0.9 * before.get(`teacher/${k}`)![i] + 0.1 * v.data[i], 6));
      }
      steps++;
    };
    await trainModel(opts);
    expect(steps).toBe(3 * 4);
    expect(maskReads()).toBe(0);

    // The term's target is the teacher's eval-mode output on the batch as given (already augmented).
    const teacher = tinyModel(5);
    const { term, hooks } = createEpi({ ...DEFAULT_EPI, update: 'mean-teacher' }, split, { batchSize: 1, createTeacher: () => teacher });
    const student = tinyModel(6);
    const state = createRunState();
    await hooks.onEpochStart!({ epoch: 1, model: student, state });
    const images = tf.tensor4d(split.image(0).image, [1, H, H, 3]);
    const text = tf.tensor3d(textFeatures(split.text(0)), [1, 3, 2]);
    const pred = student.forward(images, text, { training: false });
    const want = weightedDiceBCE(pred, student.forward(images, text, { training: false })).dataSync()[0]; // teacher = student at start
    const got = term.compute({ pred, images, masks: null, text, ids: [split.ids[0]], pixelMaps: [null], state }).dataSync()[0];
    expect(got).toBeCloseTo(want, 6);
    expect(() => createEpi({ ...DEFAULT_EPI, update: 'mean-teacher' }, split, { batchSize: 1 })).toThrow(/needs input.createTeacher/);
  });

  it.each(['iteration', 'mean-teacher'] as const)('a run killed mid-stage-2 resumes to bit-identical pseudo-labels, weights and metrics (%s)', async (update) => {
    const config = { ...DEFAULT_EPI, update };
    const reference = stage2(guardedPool().split, config);
    const refOutcome = await trainModel(reference);
    const refWeights = captureModelState(reference.model);

    const runDir = path.join(root, `killed-${update}`);
    const { split, maskReads } = guardedPool();
    const crashing = stage2(split, config, { runDir });
    const step = crashing.hooks!.onStepEnd!;
    crashing.hooks!.onStepEnd = (ctx) => {
      step(ctx);
      if (ctx.epoch === 2 && ctx.step === 3) throw new Error('injected kill');
    };
    await expect(trainModel(crashing)).rejects.toThrow('injected kill');
    // A fresh process: new model (its init is overwritten), new EPI state, same options.
    const resumed = stage2(split, config, { runDir, resume: true, model: tinyModel(99) });
    const outcome = await trainModel(resumed);
    const strip = (o: typeof outcome) => o.curves.map(({ timeSec: _t, ...r }) => r);
    expect(strip(outcome)).toEqual(strip(refOutcome));
    expect(outcome.curves[0].terms).toHaveProperty('pseudo');
    expect(outcome.curves[0].terms).toHaveProperty('lv');
    const weights = captureModelState(resumed.model);
    for (const [k, v] of Object.entries(refWeights)) expect(Array.from(weights[k].data)).toEqual(Array.from(v.data));
    const a = (await loadCheckpoint(runPaths(reference.runDir).last)).blobs!;
    const b = (await loadCheckpoint(runPaths(runDir).last)).blobs!;
    const saved = update === 'mean-teacher' ? Object.keys(refWeights).map((k) => `array/teacher/${k}`) : split.ids.map((id) => `perImage/${id}`);
    expect(Object.keys(b).sort()).toEqual(saved.sort());
    for (const [k, v] of Object.entries(a)) expect(Array.from(b[k])).toEqual(Array.from(v));
    expect(maskReads()).toBe(0);
  });
});
