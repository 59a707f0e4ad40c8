import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import type { UnlabeledSplit } from '../types.js';
import { createRunState } from './state.js';
import {
  assignContrastiveLabels,
  cosineSimilarity,
  createLvLossTerm,
  lvLoss,
  mostSimilar,
  textVector,
  type ContrastiveLabel,
} from './lv-loss.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** float64 reference: mean over samples of 1 - cos(p_b, m_b). */
function lvLossRef(p: number[][], m: number[][]): number {
  return p.reduce((acc, pb, b) => acc + 1 - cosineSimilarity(pb, m[b]), 0) / p.length;
}

describe('LV loss', () => {
  it('cosine similarity, text vectors and the argmax choice by hand', () => {
    expect(cosineSimilarity([1, 0], [0, 1])).toBe(0);
    expect(cosineSimilarity([3, 4], [6, 8])).toBeCloseTo(1, 15);
    expect(cosineSimilarity([1, 1], [1, 0])).toBeCloseTo(Math.SQRT1_2, 15);
    expect(cosineSimilarity([0, 0], [1, 0])).toBe(0); // norm clamp: no NaN
    // tokens [[1,2],[3,4],[0,0]] -> mean [4/3, 2]; flat keeps all six.
    const f = Float32Array.from([1, 2, 3, 4, 0, 0]);
    const mean = textVector(f, [3, 2], 'mean');
    expect(mean.length).toBe(2);
    expect(mean[0]).toBeCloseTo(4 / 3, 6);
    expect(mean[1]).toBeCloseTo(2, 6);
    expect(textVector(f, [3, 2], 'flat')).toBe(f);
    expect(() => textVector(f, [2, 2], 'mean')).toThrow(/expected 2x2/);
    const bank = [Float32Array.from([1, 0]), Float32Array.from([1, 1]), Float32Array.from([2, 2])];
    expect(mostSimilar(Float32Array.from([0.9, 1]), bank)).toBe(1); // cos 0.99 vs 0.67; [2,2] ties with [1,1]: first wins
    expect(mostSimilar(Float32Array.from([1, 0.1]), bank)).toBe(0);
  });

  it('assigns each unlabelled image the label whose text is most similar, mean vs flat', () => {
    const texts = ['t0', 't1', 't2'];
    const split: UnlabeledSplit = {
      dataset: 'hand',
      split: 'train',
      size: 3,
      height: 2,
      width: 2,
      channels: 1,
      ids: ['u0', 'u1', 'u2'],
      image: () => {
        throw new Error('TextSim must not decode images');
      },
      text: (i) => texts[i],
    };
    // Features per sentence, [2 tokens x 2 dims], chosen so that 'mean' and 'flat' disagree.
    const table: Record<string, number[]> = { A: [1, 0, 0, 1], B: [0, 1, 1, 0], t0: [1, 0, 0, 1], t1: [0, 1, 1, 0], t2: [1, 0.1, 0, 1] };
    const labels: ContrastiveLabel[] = [
      { id: 'A', text: 'A', mask: Uint8Array.from([1, 0, 0, 0]) },
      { id: 'B', text: 'B', mask: Uint8Array.from([0, 0, 0, 1]) },
    ];
    const text = { features: (s: string) => Float32Array.from(table[s]), shape: [2, 2] as [number, number] };
    // flat: t1 equals B; mean: A and B both average to [0.5, 0.5], so every image ties and the first (A) wins.
    const flat = assignContrastiveLabels(split, labels, text, 'flat');
    expect(split.ids.map((id) => flat.get(id))).toEqual([0, 1, 0]);
    const byMean = assignContrastiveLabels(split, labels, text, 'mean');
    expect(split.ids.map((id) => byMean.get(id))).toEqual([0, 0, 0]);
    expect(() => assignContrastiveLabels(split, [{ id: 'x', text: 'A', mask: new Uint8Array(3) }], text, 'flat')).toThrow(/'x' has 3 pixels/);
  });

  it('lvLoss equals a float64 hand computation, and an empty mask gives 1', () => {
    const p = [
      [0.9, 0.1, 0.8, 0.2],
      [0.3, 0.3, 0.3, 0.3],
    ];
    const m = [
      [1, 0, 1, 0],
      [0, 0, 0, 0],
    ];
    const v = lvLoss(tf.tensor4d(p.flat(), [2, 2, 2, 1]), tf.tensor4d(m.flat(), [2, 2, 2, 1])).dataSync()[0];
    // sample 0: cos = (0.9+0.8)/(sqrt(1.5)*sqrt(2)); sample 1: empty mask -> cos 0 -> 1.
    const cos0 = 1.7 / (Math.sqrt(0.81 + 0.01 + 0.64 + 0.04) * Math.SQRT2);
    expect(v).toBeCloseTo((1 - cos0 + 1) / 2, 6);
    expect(v).toBeCloseTo(lvLossRef(p, m), 6);
  });

  it('its gradient matches central finite differences of the float64 reference', () => {
    const pred = [0.2, 0.7, 0.4, 0.9, 0.5, 0.1, 0.3, 0.6];
    const mask = [1, 1, 0, 1, 0, 0, 1, 1];
    const g = tf.grad((x: tf.Tensor) => lvLoss(x as tf.Tensor4D, tf.tensor4d(mask, [2, 2, 2, 1])))(tf.tensor4d(pred, [2, 2, 2, 1])).dataSync();
    const rows = (x: number[]) => [x.slice(0, 4), x.slice(4)];
    const h = 1e-6;
    let maxErr = 0;
    let maxRef = 0;
    for (let i = 0; i < pred.length; i++) {
      const up = pred.slice();
      const down = pred.slice();
      up[i] += h;
      down[i] -= h;
      const fd = (lvLossRef(rows(up), rows(mask)) - lvLossRef(rows(down), rows(mask))) / (2 * h);
      maxErr = Math.max(maxErr, Math.abs(fd - g[i]));
      maxRef = Math.max(maxRef, Math.abs(fd));
    }
    expect(maxRef).toBeGreaterThan(0.05);
    // float32 gradient vs float64 differences: relative to the largest entry, float32 rounding level.
    expect(maxErr / maxRef).toBeLessThan(1e-5);
  });

  it('the loss term compares the prediction with the assigned mask moved through the image augmentation', () => {
    const labels: ContrastiveLabel[] = [{ id: 'L', text: 't', mask: Uint8Array.from([1, 0, 0, 0]) }];
    const term = createLvLossTerm({ weight: 0.1, textVector: 'mean' }, labels, new Map([['a', 0]]));
    const pred = tf.tensor4d([0, 0.2, 0.1, 0.9], [1, 2, 2, 1]);
    const flip = Int32Array.from([1, 0, 3, 2]); // out[p] = mask[map[p]]: moves pixel 0 to 1
    const ctx = { pred, images: pred, masks: null, text: null, ids: ['a'], state: createRunState() };
    const flipped = term.compute({ ...ctx, pixelMaps: [flip] }).dataSync()[0];
    const plain = term.compute({ ...ctx, pixelMaps: [null] }).dataSync()[0];
    expect(plain).toBeCloseTo(1, 6); // pred is 0 where the un-moved mask is 1
    expect(flipped).toBeCloseTo(1 - 0.2 / Math.sqrt(0.04 + 0.01 + 0.81), 6);
    expect(() => term.compute({ ...ctx, ids: ['b'], pixelMaps: [null] })).toThrow(/'b' has no contrastive label/);
    expect(() => createLvLossTerm({ weight: 0, textVector: 'mean' }, labels, new Map())).toThrow(/weight must be > 0/);
  });
});
