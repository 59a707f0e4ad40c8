import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { relativeMaxError } from '../engine/kernels/reference.js';
import { Rng } from '../rng.js';
import { batchNormTrain } from './batch-norm-train.js';

/**
 * The closed-form batch-norm backward against tfjs autograd through the textbook expression
 * (tf.moments + tf.batchNorm, what BatchNorm used before) on the stock cpu backend, and against
 * central finite differences in float64-like precision (small tensors, so float32 suffices at 2e-3).
 */

beforeAll(async () => {
  await tf.setBackend('cpu');
});

function data(seed: number, shape: number[]): tf.Tensor {
  const rng = new Rng(seed);
  return tf.tensor(Float32Array.from({ length: shape.reduce((a, b) => a * b) }, () => rng.next() * 4 - 1), shape);
}

const eps = 1e-5;

function autogradReference(x: tf.Tensor, gamma: tf.Tensor1D, beta: tf.Tensor1D, w: tf.Tensor): tf.Tensor[] {
  const axes = x.shape.slice(0, -1).map((_, i) => i);
  return tf.grads((xi: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => {
    const { mean, variance } = tf.moments(xi, axes);
    return tf.sum(tf.mul(tf.batchNorm(xi, mean, variance, b as tf.Tensor1D, g as tf.Tensor1D, eps), w));
  })([x, gamma, beta]);
}

function closedForm(x: tf.Tensor, gamma: tf.Tensor1D, beta: tf.Tensor1D, w: tf.Tensor): tf.Tensor[] {
  return tf.grads((xi: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => {
    const { y, mean, variance } = batchNormTrain(xi, g as tf.Tensor1D, b as tf.Tensor1D, eps);
    tf.dispose([mean, variance]);
    return tf.sum(tf.mul(y, w));
  })([x, gamma, beta]);
}

/** max |a - b| / max |b|, the shared float64 reference check. */
function maxRelDiff(a: tf.Tensor, b: tf.Tensor): number {
  return relativeMaxError(a.dataSync(), b.dataSync());
}

describe('batchNormTrain', () => {
  it('forward: the normalized output, biased batch variance and mean of tf.moments', () => {
    const x = data(1, [3, 5, 4, 6]);
    const gamma = data(2, [6]) as tf.Tensor1D;
    const beta = data(3, [6]) as tf.Tensor1D;
    const { y, mean, variance } = batchNormTrain(x, gamma, beta, eps);
    const m = tf.moments(x, [0, 1, 2]);
    expect(maxRelDiff(mean, m.mean)).toBeLessThan(1e-6);
    expect(maxRelDiff(variance, m.variance)).toBeLessThan(1e-6);
    expect(maxRelDiff(y, tf.batchNorm(x, m.mean, m.variance, beta, gamma, eps))).toBeLessThan(1e-5);
  });

  it('backward: dx, dgamma, dbeta equal autograd through tf.moments + tf.batchNorm (ranks 2 and 4)', () => {
    for (const shape of [[7, 5], [2, 6, 6, 8]]) {
      const c = shape[shape.length - 1];
      const x = data(4, shape);
      const gamma = data(5, [c]) as tf.Tensor1D;
      const beta = data(6, [c]) as tf.Tensor1D;
      const w = data(7, shape); // a non-uniform upstream gradient
      const ref = autogradReference(x, gamma, beta, w);
      const got = closedForm(x, gamma, beta, w);
      ['dx', 'dgamma', 'dbeta'].forEach((name, i) => expect(maxRelDiff(got[i], ref[i]), `${name} ${shape}`).toBeLessThan(2e-5));
    }
  });

  it('backward: dx matches central finite differences', () => {
    const x = data(8, [2, 3, 3, 2]);
    const gamma = data(9, [2]) as tf.Tensor1D;
    const beta = data(10, [2]) as tf.Tensor1D;
    const w = data(11, [2, 3, 3, 2]);
    const loss = (xi: tf.Tensor) => tf.tidy(() => {
      const r = batchNormTrain(xi, gamma, beta, eps);
      return tf.sum(tf.mul(r.y, w)).dataSync()[0];
    });
    const [dx] = closedForm(x, gamma, beta, w);
    const xs = x.dataSync();
    const g = dx.dataSync();
    const h = 1e-2;
    for (const i of [0, 5, 17, 35]) {
      const plus = Float32Array.from(xs);
      const minus = Float32Array.from(xs);
      plus[i] += h;
      minus[i] -= h;
      const fd = (loss(tf.tensor(plus, x.shape)) - loss(tf.tensor(minus, x.shape))) / (2 * h);
      expect(Math.abs(fd - g[i]), `element ${i}: fd ${fd} vs ${g[i]}`).toBeLessThan(2e-3 * Math.max(1, Math.abs(fd)));
    }
  });
});
