import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '../../rng.js';
import { registerOnnxruntimeBackend } from './index.js';
import { onnxruntimeStats, resetOnnxruntimeStats } from './stats.js';

/**
 * The backend-specific gradients (fused-gradients.ts) against tfjs's own gradients on the cpu
 * backend, and a check that the fused kernels (not the tfjs gradient) ran.
 */

beforeAll(async () => {
  const probe = await registerOnnxruntimeBackend({ intraOpNumThreads: 2 });
  expect(probe.ok, probe.reason).toBe(true);
});

function data(shape: number[], seed: number): Float32Array {
  const rng = new Rng(seed);
  return new Float32Array(shape.reduce((a, b) => a * b, 1)).map(() => rng.next() * 2 - 1);
}

/** Gradients of f w.r.t. every input, on one backend. */
async function grads(backend: string, shapes: number[][], f: (...xs: tf.Tensor[]) => tf.Scalar): Promise<Float32Array[]> {
  await tf.setBackend(backend);
  return tf.tidy(() => {
    const xs = shapes.map((s, i) => tf.tensor(data(s, 100 + i), s));
    return tf.grads(f)(xs).map((g) => g.dataSync() as Float32Array);
  });
}

async function expectSameGradients(shapes: number[][], f: (...xs: tf.Tensor[]) => tf.Scalar, fusedKernel: string) {
  resetOnnxruntimeStats();
  const got = await grads('onnxruntime', shapes, f);
  expect(onnxruntimeStats().some((s) => s.kernel === fusedKernel && s.calls > 0), `${fusedKernel} ran`).toBe(true);
  const want = await grads('cpu', shapes, f);
  want.forEach((w, i) => {
    let maxDiff = 0;
    let maxRef = 0;
    w.forEach((v, j) => {
      maxDiff = Math.max(maxDiff, Math.abs(v - got[i][j]));
      maxRef = Math.max(maxRef, Math.abs(v));
    });
    expect(maxDiff, `input ${i}`).toBeLessThanOrEqual(1e-5 * maxRef + 1e-7);
  });
}

// A weighting tensor makes every upstream gradient element distinct.
const weighted = (y: tf.Tensor) => tf.sum(tf.mul(y, tf.tensor(data(y.shape, 7), y.shape)));

describe('fused gradients', () => {
  const shape = [2, 16, 16, 32];
  it('Relu', () => expectSameGradients([shape], (x) => weighted(tf.relu(x)), '_OrtReluGrad'));
  it('Square', () => expectSameGradients([shape], (x) => weighted(tf.square(x)), '_OrtSquareGrad'));
  it('Mean over [0,1,2] and keepDims over [3]', () =>
    expectSameGradients([shape], (x) => tf.add(weighted(tf.mean(x, [0, 1, 2])), weighted(tf.mean(x, 3, true))), '_OrtReduceBroadcastGrad'));
  it('Sum over [1,2]', () => expectSameGradients([shape], (x) => weighted(tf.sum(x, [1, 2])), '_OrtReduceBroadcastGrad'));
  it('batch norm in train mode (moments + batchNorm), all five inputs', () =>
    expectSameGradients(
      [shape, [32], [32]],
      (x, gamma, beta) => {
        const { mean, variance } = tf.moments(x, [0, 1, 2]);
        return weighted(tf.batchNorm(x, mean, variance, beta, tf.add(gamma, 1.5), 1e-5));
      },
      '_OrtBatchNormGradStats',
    ));
  it('Multiply with a broadcast operand (a gain [C], a per-pixel factor [B,H,W,1])', () =>
    expectSameGradients([shape, [32], [2, 16, 16, 1]], (x, g, h) => weighted(tf.mul(tf.mul(x, g), h)), '_OrtMulReduce'));
  it('RealDiv by a broadcast divisor (layer norm)', () =>
    expectSameGradients([shape, [2, 16, 16, 1]], (x, d) => weighted(tf.div(x, tf.add(tf.abs(d), 0.5))), '_OrtMulReduce'));
  // (tfjs 4.22 cannot take gradients of a batchNorm without scale or offset on any backend: the
  // engine touches the missing inputs while saving/back-propagating.)
});
