import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { Adam } from './optim.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** torch.optim.Adam, float64, plain loops. */
function referenceAdam(p0: number[], grads: number[][], lr: number, b1 = 0.9, b2 = 0.999, eps = 1e-8): number[] {
  const p = [...p0];
  const m = p.map(() => 0);
  const v = p.map(() => 0);
  grads.forEach((g, k) => {
    const t = k + 1;
    for (let i = 0; i < p.length; i++) {
      m[i] = b1 * m[i] + (1 - b1) * g[i];
      v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i];
      const mHat = m[i] / (1 - b1 ** t);
      const vHat = v[i] / (1 - b2 ** t);
      p[i] -= (lr * mHat) / (Math.sqrt(vHat) + eps);
    }
  });
  return p;
}

describe('Adam', () => {
  it('first step by hand: p - lr * g / (|g| + eps)', () => {
    const w = tf.variable(tf.tensor1d([1, -2, 0.5]));
    const opt = new Adam([['w', w]], { lr: 0.01 });
    opt.step({ w: tf.tensor1d([0.1, -0.3, 0]) });
    const got = w.dataSync();
    expect(got[0]).toBeCloseTo(1 - (0.01 * 0.1) / (0.1 + 1e-8), 6);
    expect(got[1]).toBeCloseTo(-2 + (0.01 * 0.3) / (0.3 + 1e-8), 6);
    expect(got[2]).toBe(0.5);
  });

  it('matches the float64 reference over several steps', () => {
    const p0 = [0.3, -1.2, 2.5, 0.01];
    const grads = [
      [0.5, -0.1, 0.02, 1e-4],
      [-0.2, 0.3, 0.01, -1e-4],
      [0.1, 0.1, -0.5, 2e-4],
    ];
    const w = tf.variable(tf.tensor2d(p0, [2, 2]));
    const opt = new Adam([['w', w]], { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8 });
    for (const g of grads) opt.step({ w: tf.tensor2d(g, [2, 2]) });
    const expected = referenceAdam(p0, grads, 1e-3);
    const got = w.dataSync();
    expected.forEach((e, i) => expect(Math.abs(got[i] - e)).toBeLessThan(1e-6));
  });

  it('leaves a parameter without a gradient untouched and keeps per-parameter step counts', () => {
    const a = tf.variable(tf.tensor1d([1]));
    const b = tf.variable(tf.tensor1d([2]));
    const opt = new Adam([['a', a], ['b', b]], { lr: 0.1 });
    opt.step({ a: tf.tensor1d([1]) });
    expect(b.dataSync()[0]).toBe(2);
    const s = opt.getState();
    expect(s.slots.a.step).toBe(1);
    expect(s.slots.b.step).toBe(0);
    expect(() => opt.step({ c: tf.tensor1d([1]) })).toThrow(/unknown parameter 'c'/);
  });

  it('state round-trips: a restored optimizer continues exactly', () => {
    const make = () => tf.variable(tf.tensor1d([0.5, -0.5, 1.5]));
    const g1 = tf.tensor1d([0.2, -0.4, 0.1]);
    const g2 = tf.tensor1d([-0.3, 0.1, 0.05]);
    const w1 = make();
    const o1 = new Adam([['w', w1]], { lr: 0.05 });
    o1.step({ w: g1 });
    const saved = o1.getState();
    o1.step({ w: g2 });

    const w2 = make();
    w2.assign(tf.tensor1d([0, 0, 0]));
    const o2 = new Adam([['w', w2]], { lr: 0.05 });
    // Restore the weights after step 1 and the optimizer state, then take step 2.
    const after1 = make();
    new Adam([['w', after1]], { lr: 0.05 }).step({ w: g1 });
    w2.assign(after1);
    o2.setState(saved);
    o2.step({ w: g2 });
    expect(Array.from(w2.dataSync())).toEqual(Array.from(w1.dataSync()));
  });

  it('setState rejects a state for other parameters', () => {
    const o = new Adam([['w', tf.variable(tf.zeros([2]))]], { lr: 1 });
    const other = new Adam([['x', tf.variable(tf.zeros([2]))]], { lr: 1 }).getState();
    expect(() => o.setState(other)).toThrow(/names differ/);
  });
});
