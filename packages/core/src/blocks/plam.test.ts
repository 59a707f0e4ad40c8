import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '../rng.js';
import { PixLevelModule } from './plam.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** PLAM by hand (LVIT.md §1.6), plain loops over an NHWC buffer. */
function plamByHand(x: Float32Array, [b, h, w, c]: number[], p: Record<string, Float32Array>): Float64Array {
  const out = new Float64Array(x.length);
  const wa = p['conv_avg.weight']; // [1,1,C,C]: index ci*C + co
  const wm = p['conv_max.weight'];
  const w1 = p['bottleneck.0.weight']; // [3,6]
  const b1 = p['bottleneck.0.bias'];
  const w2 = p['bottleneck.2.weight']; // [6,1]
  const b2 = p['bottleneck.2.bias'];
  for (let pix = 0; pix < b * h * w; pix++) {
    const base = pix * c;
    let avg = 0;
    let max = -Infinity;
    for (let co = 0; co < c; co++) {
      let sa = 0;
      let sm = 0;
      for (let ci = 0; ci < c; ci++) {
        sa += x[base + ci] * wa[ci * c + co];
        sm += x[base + ci] * wm[ci * c + co];
      }
      avg += Math.max(sa, 0) / c;
      max = Math.max(max, Math.max(sm, 0));
    }
    const feats = [avg, max, avg + max];
    let weight = b2[0];
    for (let j = 0; j < 6; j++) {
      let hj = b1[j];
      for (let i = 0; i < 3; i++) hj += feats[i] * w1[i * 6 + j];
      weight += Math.max(hj, 0) * w2[j];
    }
    for (let ci = 0; ci < c; ci++) out[base + ci] = weight * x[base + ci];
  }
  return out;
}

describe('PixLevelModule (PLAM as coded)', () => {
  it('matches a hand computation, with no sigmoid on the weight', () => {
    const rng = new Rng(5);
    const shape = [2, 3, 4, 5];
    const plam = new PixLevelModule(5, rng);
    const data = Float32Array.from({ length: 2 * 3 * 4 * 5 }, () => rng.normal());
    const params = Object.fromEntries(plam.namedParameters().map(([n, v]) => [n, v.dataSync() as Float32Array]));
    const got = tf.tidy(() => plam.forward(tf.tensor4d(data, shape as [number, number, number, number])).dataSync());
    const want = plamByHand(data, shape, params);
    want.forEach((v, i) => expect(Math.abs(got[i] - v)).toBeLessThan(1e-5 * (1 + Math.abs(v))));

    // Without a sigmoid the weight can leave (0, 1): make it so and check the output follows.
    plam.bottleneck.out.bias!.assign(tf.tensor1d([3]));
    const params2 = Object.fromEntries(plam.namedParameters().map(([n, v]) => [n, v.dataSync() as Float32Array]));
    const got2 = tf.tidy(() => plam.forward(tf.tensor4d(data, shape as [number, number, number, number])).dataSync());
    const want2 = plamByHand(data, shape, params2);
    want2.forEach((v, i) => expect(Math.abs(got2[i] - v)).toBeLessThan(1e-5 * (1 + Math.abs(v))));
    const ratio = Math.abs(got2[0] / data[0]);
    expect(ratio).toBeGreaterThan(1); // a sigmoid-gated version could never amplify
  });

  it('builds only what forward uses (2C² + 31 parameters, no conv_sig)', () => {
    const plam = new PixLevelModule(64, new Rng(1));
    expect(plam.parameterCount()).toBe(2 * 64 * 64 + 24 + 7);
    expect(plam.namedParameters().map(([n]) => n)).toEqual([
      'conv_avg.weight',
      'conv_max.weight',
      'bottleneck.0.weight',
      'bottleneck.0.bias',
      'bottleneck.2.weight',
      'bottleneck.2.bias',
    ]);
  });

  it('rejects a wrong channel count', () => {
    const plam = new PixLevelModule(4, new Rng(1));
    expect(() => plam.forward(tf.zeros([1, 2, 2, 3]) as tf.Tensor4D)).toThrow(/plam\.ts: input must be \[B,H,W,4\]/);
    expect(() => new PixLevelModule(0, new Rng(1))).toThrow(/plam\.ts: channels must be a positive integer/);
  });
});
