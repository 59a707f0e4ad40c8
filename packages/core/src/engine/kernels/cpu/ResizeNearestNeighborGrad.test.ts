import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { patchCpuForTraining } from '../index.js';

/** Reference: the gradient of sum(resize(x) * w) w.r.t. x, by summing w over each source pixel's block. */
function blockSums(w: Float32Array, b: number, h: number, wd: number, f: number, c: number): Float32Array {
  const out = new Float32Array(b * h * wd * c);
  for (let n = 0; n < b; n++)
    for (let y = 0; y < h * f; y++)
      for (let x = 0; x < wd * f; x++)
        for (let k = 0; k < c; k++)
          out[((n * h + Math.floor(y / f)) * wd + Math.floor(x / f)) * c + k] += w[((n * h * f + y) * wd * f + x) * c + k];
  return out;
}

describe('cpu ResizeNearestNeighborGrad patch', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
    patchCpuForTraining();
  });

  it.each([1, 2, 3])('matches block sums for batch %i (the stock kernel is wrong for batch >= 2)', (batch) => {
    const [h, w, c, f] = [3, 4, 2, 2];
    const x = tf.randomUniform([batch, h, w, c], 0, 1, 'float32', 7) as tf.Tensor4D;
    const weights = tf.randomUniform([batch, h * f, w * f, c], -1, 1, 'float32', 8);
    const grad = tf.grad((t: tf.Tensor4D) => tf.sum(tf.mul(tf.image.resizeNearestNeighbor(t, [h * f, w * f]), weights)))(x);
    const expected = blockSums(weights.dataSync() as Float32Array, batch, h, w, f, c);
    const got = grad.dataSync();
    for (let i = 0; i < expected.length; i++) expect(got[i]).toBeCloseTo(expected[i], 5);
  });
});
