import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '../rng.js';
import { balancedBCELoss, binaryCrossEntropy, softDiceLoss, weightedDiceBCE } from './losses.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** Plain-loop float64 reference of LViT's WeightedDiceBCE(0.5, 0.5) on flat [B, N] arrays. */
function referenceLoss(p: number[][], t: number[][]): number {
  let dice = 0;
  for (let b = 0; b < p.length; b++) {
    let pt = 0;
    let pp = 0;
    let tt = 0;
    for (let i = 0; i < p[b].length; i++) {
      pt += p[b][i] * t[b][i];
      pp += p[b][i] * p[b][i];
      tt += t[b][i] * t[b][i];
    }
    dice += 1 - (2 * pt + 4e-5) / (pp + tt + 4e-5);
  }
  dice /= p.length;
  let posSum = 0;
  let negSum = 0;
  let posN = 0;
  let negN = 0;
  for (let b = 0; b < p.length; b++) {
    for (let i = 0; i < p[b].length; i++) {
      const x = p[b][i];
      const y = t[b][i];
      const bce = -(y * Math.max(Math.log(x), -100) + (1 - y) * Math.max(Math.log(1 - x), -100));
      if (y > 0.5) {
        posSum += bce;
        posN++;
      }
      if (y < 0.5) {
        negSum += bce;
        negN++;
      }
    }
  }
  const bce = 0.5 * (posSum / (posN + 1e-12)) + 0.5 * (negSum / (negN + 1e-12));
  return 0.5 * dice + 0.5 * bce;
}

function randomCase(rng: Rng, b: number, h: number, w: number, lo = 0.02, hi = 0.98) {
  const p = Array.from({ length: b }, () => Array.from({ length: h * w }, () => rng.uniform(lo, hi)));
  const t = Array.from({ length: b }, () => Array.from({ length: h * w }, () => (rng.next() < 0.4 ? 1 : 0)));
  return { p, t };
}

const tensor = (rows: number[][], h: number, w: number) => tf.tensor4d(rows.flat(), [rows.length, h, w, 1]);

describe('weightedDiceBCE', () => {
  it('matches a hand computation on a 2x2 case', () => {
    // Sample 0: p = [0.9, 0.2, 0.6, 0.1], t = [1, 0, 1, 0]; sample 1: p = [0.3, 0.3, 0.3, 0.3], t = 0.
    // Dice_0 = 1 - (2*1.5 + 4e-5)/(1.22 + 2 + 4e-5); Dice_1 = 1 - 4e-5/(0.36 + 4e-5).
    const dice0 = 1 - (3 + 4e-5) / (3.22 + 4e-5);
    const dice1 = 1 - 4e-5 / (0.36 + 4e-5);
    const pos = (-Math.log(0.9) - Math.log(0.6)) / 2;
    const neg = (-Math.log(0.8) - Math.log(0.9) - 4 * Math.log(0.7)) / 6;
    const expected = 0.5 * ((dice0 + dice1) / 2) + 0.5 * (0.5 * pos + 0.5 * neg);
    const pred = tf.tensor4d([0.9, 0.2, 0.6, 0.1, 0.3, 0.3, 0.3, 0.3], [2, 2, 2, 1]);
    const target = tf.tensor4d([1, 0, 1, 0, 0, 0, 0, 0], [2, 2, 2, 1]);
    expect(weightedDiceBCE(pred, target).dataSync()[0]).toBeCloseTo(expected, 6);
  });

  it('matches the plain-loop reference on random batches', () => {
    const rng = new Rng(7);
    for (let k = 0; k < 3; k++) {
      const { p, t } = randomCase(rng, 3, 4, 5);
      const got = weightedDiceBCE(tensor(p, 4, 5), tensor(t, 4, 5)).dataSync()[0];
      expect(got).toBeCloseTo(referenceLoss(p, t), 5);
    }
  });

  it('clamps log at -100 like torch and stays finite at p = 0 and p = 1', () => {
    const pred = tf.tensor4d([0, 1, 1, 0], [1, 2, 2, 1]);
    const target = tf.tensor4d([1, 0, 1, 0], [1, 2, 2, 1]);
    const bce = binaryCrossEntropy(pred, target).dataSync();
    expect(Array.from(bce).map((v) => v + 0)).toEqual([100, 100, 0, 0]);
    const g = tf.grad((x: tf.Tensor) => weightedDiceBCE(x as tf.Tensor4D, target))(pred).dataSync();
    for (const v of g) expect(Number.isFinite(v)).toBe(true);
  });

  it('has a zero BCE part for a class that is absent (denominator + 1e-12)', () => {
    const pred = tf.tensor4d([0.2, 0.4, 0.6, 0.8], [1, 2, 2, 1]);
    const target = tf.zeros([1, 2, 2, 1]) as tf.Tensor4D;
    const expected = 0.5 * ((-Math.log(0.8) - Math.log(0.6) - Math.log(0.4) - Math.log(0.2)) / 4);
    expect(balancedBCELoss(pred, target).dataSync()[0]).toBeCloseTo(expected, 6);
  });

  it('has gradients that agree with central finite differences of the float64 reference', () => {
    const rng = new Rng(11);
    const { p, t } = randomCase(rng, 2, 3, 3, 0.1, 0.9);
    const grad = tf.grad((x: tf.Tensor) => weightedDiceBCE(x as tf.Tensor4D, tensor(t, 3, 3)))(tensor(p, 3, 3)).dataSync();
    const h = 1e-6;
    let k = 0;
    for (let b = 0; b < p.length; b++) {
      for (let i = 0; i < p[b].length; i++, k++) {
        const up = p.map((r) => [...r]);
        const down = p.map((r) => [...r]);
        up[b][i] += h;
        down[b][i] -= h;
        const fd = (referenceLoss(up, t) - referenceLoss(down, t)) / (2 * h);
        expect(Math.abs(grad[k] - fd)).toBeLessThan(1e-5 + 1e-4 * Math.abs(fd));
      }
    }
  });

  it('rejects mismatched shapes with a message naming the file', () => {
    expect(() => softDiceLoss(tf.zeros([1, 2, 2, 1]) as tf.Tensor4D, tf.zeros([1, 2, 3, 1]) as tf.Tensor4D)).toThrow(/train\/losses\.ts/);
  });
});
