import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { Module } from '../nn/module.js';
import type { SegmentationModel, SegSample, SegSplit } from '../types.js';
import { evaluateModel } from './evaluate.js';
import { weightedDiceBCE } from './losses.js';
import { scoreImage } from './metrics.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** A "model" whose probability map is the image's single channel, so outputs are chosen by the test. */
class PassThrough extends Module implements SegmentationModel {
  readonly name = 'pass-through';
  readonly usesText = false;
  calls: boolean[] = [];
  forward(image: tf.Tensor4D, _text: tf.Tensor3D | null, ctx: { training: boolean }): tf.Tensor4D {
    this.calls.push(ctx.training);
    return tf.clone(image);
  }
}

const probs = [
  [0.9, 0.2, 0.7, 0.1], // partial overlap
  [0.1, 0.2, 0.3, 0.4], // empty / empty
  [0.6, 0.6, 0.0, 0.0], // perfect
  [0.5, 0.0, 0.0, 0.0], // exactly at the threshold, empty ground truth
  [0.0, 0.0, 0.8, 0.9], // disjoint
];
const masks = [
  [1, 1, 0, 0],
  [0, 0, 0, 0],
  [1, 1, 0, 0],
  [0, 0, 0, 0],
  [1, 1, 0, 0],
];
const samples: SegSample[] = probs.map((p, i) => ({ id: `s${i}`, image: Float32Array.from(p), mask: Uint8Array.from(masks[i]), text: '' }));
const split: SegSplit = {
  dataset: 'hand',
  split: 'test',
  size: samples.length,
  height: 2,
  width: 2,
  channels: 1,
  ids: samples.map((s) => s.id),
  sample: (i) => samples[i],
  image: (i) => samples[i],
  text: (i) => samples[i].text,
};

describe('evaluateModel', () => {
  it('pools TP/FP/FN over the split (hand-computed: TP 3, |P| 6 test / 7 val with the 0.5 pixel, |G| 6)', async () => {
    const test = await evaluateModel(new PassThrough(), split, { convention: 'test', batchSize: 2 });
    expect(test.pooled.dice).toBeCloseTo(6 / 12, 12);
    expect(test.pooled.iou).toBeCloseTo(3 / 9, 12);
    const val = await evaluateModel(new PassThrough(), split, { convention: 'val', batchSize: 3 });
    expect(val.pooled.dice).toBeCloseTo(6 / 13, 12);
    expect(val.pooled.iou).toBeCloseTo(3 / 10, 12);
  });

  it('scores every image in eval mode and averages per image, in both conventions', async () => {
    for (const convention of ['test', 'val'] as const) {
      const model = new PassThrough();
      const r = await evaluateModel(model, split, { convention, batchSize: 2 });
      expect(model.calls.every((t) => t === false)).toBe(true);
      const expected = samples.map((s) => scoreImage(s.image, s.mask, convention));
      expect(r.perImage.map((p) => p.id)).toEqual(split.ids);
      r.perImage.forEach((p, i) => expect(p.dice).toBeCloseTo(expected[i].dice, 6));
      expect(r.dice).toBeCloseTo(expected.reduce((a, e) => a + e.dice, 0) / 5, 6);
      expect(r.iou).toBeCloseTo(expected.reduce((a, e) => a + e.iou, 0) / 5, 6);
    }
  });

  it('test and val conventions differ exactly on empty/empty and at p = 0.5', async () => {
    const test = await evaluateModel(new PassThrough(), split, { convention: 'test' });
    const val = await evaluateModel(new PassThrough(), split, { convention: 'val' });
    expect(test.perImage[1].dice).toBe(0);
    expect(val.perImage[1].dice).toBe(1);
    expect(test.perImage[3].dice).toBe(0); // 0.5 is background in test, so empty/empty
    expect(val.perImage[3].dice).toBeLessThan(1e-4); // 0.5 is a false positive in val
  });

  it('returns binary predictions for the requested ids and a batch-size-weighted loss', async () => {
    const r = await evaluateModel(new PassThrough(), split, { convention: 'test', batchSize: 3, keepPredictions: ['s0', 's3'], withLoss: true });
    expect([...r.predictions.keys()]).toEqual(['s0', 's3']);
    expect(Array.from(r.predictions.get('s0')!)).toEqual([1, 0, 1, 0]);
    expect(Array.from(r.predictions.get('s3')!)).toEqual([0, 0, 0, 0]);
    const batchLoss = (from: number, to: number) =>
      tf.tidy(() => {
        const p = tf.tensor4d(probs.slice(from, to).flat(), [to - from, 2, 2, 1]);
        const t = tf.tensor4d(masks.slice(from, to).flat(), [to - from, 2, 2, 1]);
        return weightedDiceBCE(p, t).dataSync()[0];
      });
    expect(r.loss).toBeCloseTo((3 * batchLoss(0, 3) + 2 * batchLoss(3, 5)) / 5, 5);
  });

  it('rejects an empty split', async () => {
    await expect(evaluateModel(new PassThrough(), { ...split, size: 0, ids: [] }, { convention: 'test' })).rejects.toThrow(/empty/);
  });
});
