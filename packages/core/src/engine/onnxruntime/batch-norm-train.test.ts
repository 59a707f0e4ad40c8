import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { skipOutsideCi } from '../../io/prerequisite.js';
import { batchNormTrain } from '../../nn/batch-norm-train.js';
import { relativeMaxError, seededValues } from '../kernels/reference.js';
import { activateOnnxruntime } from './activate.test-util.js';
import type { OnnxruntimeBackend } from './backend.js';
import { BATCH_NORM_TRAIN, setFusedBatchNorm } from './kernels/batch-norm-train.js';
import { loadedBatchNorm, nativeBatchNormStatus, nativeOrtRun, setNativeBatchNorm, setNativeOrtRun } from './native.js';
import { timedKernel } from './register.js';

/**
 * The fused training batch norm: native/batch-norm.cc against a float64 loop (every instruction set
 * this CPU runs), and the two kernels (native passes and their ONNX build, recorded or eager) against
 * the tf-ops formulation nn/batch-norm-train.ts uses without them, gradients included.
 */
const addon = loadedBatchNorm();
const skip = skipOutsideCi('batch-norm-train.test.ts', addon ? null : `the native batch-norm passes are not built (${nativeBatchNormStatus()})`);

interface Reference {
  y: Float64Array;
  mean: Float64Array;
  variance: Float64Array;
  dx: Float64Array;
  dgamma: Float64Array;
  dbeta: Float64Array;
}

/** Batch norm (+ ReLU) forward and backward over [rows, c] in float64, two-pass moments. */
function reference(x: Float32Array, dy: Float32Array, gamma: Float32Array, beta: Float32Array, rows: number, c: number, eps: number, relu: boolean): Reference {
  const mean = new Float64Array(c);
  const variance = new Float64Array(c);
  for (let i = 0; i < rows * c; i++) mean[i % c] += x[i] / rows;
  for (let i = 0; i < rows * c; i++) variance[i % c] += (x[i] - mean[i % c]) ** 2 / rows;
  const inv = Float64Array.from(variance, (v) => 1 / Math.sqrt(v + eps));
  const y = new Float64Array(rows * c);
  const g = new Float64Array(rows * c);
  const dgamma = new Float64Array(c);
  const dbeta = new Float64Array(c);
  for (let i = 0; i < rows * c; i++) {
    const k = i % c;
    const pre = (x[i] - mean[k]) * inv[k] * gamma[k] + beta[k];
    y[i] = relu ? Math.max(0, pre) : pre;
    g[i] = relu && !(pre > 0) ? 0 : dy[i];
    dbeta[k] += g[i];
    dgamma[k] += g[i] * (x[i] - mean[k]) * inv[k];
  }
  const dx = new Float64Array(rows * c);
  for (let i = 0; i < rows * c; i++) {
    const k = i % c;
    const xhat = (x[i] - mean[k]) * inv[k];
    dx[i] = gamma[k] * inv[k] * (g[i] - dbeta[k] / rows - (xhat * dgamma[k]) / rows);
  }
  return { y, mean, variance, dx, dgamma, dbeta };
}

describe.skipIf(skip)('native batch-norm passes (native/batch-norm.cc)', () => {
  // 16-channel blocks with and without a tail, a tail only, one channel; enough rows for threads (>= 64 K elements) and row tiles.
  const cases: [number, number][] = [
    [4100, 35],
    [2000, 48],
    [70_000, 1],
    [9, 5],
  ];
  for (const isa of addon?.isas() ?? []) {
    for (const threads of [1, 2, 3]) {
      for (const relu of [false, true]) {
        it(`matches the float64 reference (${isa}, ${threads} thread${threads > 1 ? 's' : ''}, ${relu ? 'ReLU' : 'linear'})`, () => {
          for (const [rows, c] of cases) {
            // An offset mean: the one-pass variance must not lose it.
            const x = seededValues(rows * c, rows).map((v, i) => 3 + v * (1 + (i % c)));
            const dy = seededValues(rows * c, c + 7);
            const gamma = seededValues(c, 3).map((v) => 1 + v / 2);
            const beta = seededValues(c, 4);
            const want = reference(x, dy, gamma, beta, rows, c, 1e-5, relu);
            const [y, mean, variance] = [new Float32Array(rows * c), new Float32Array(c), new Float32Array(c)].map((a) => a.fill(Number.NaN));
            const dims = Float64Array.of(rows, c, 1e-5, relu ? 1 : 0);
            addon!.batchNormForward([x, gamma, beta, y, mean, variance], dims, threads, isa);
            const [dx, dgamma, dbeta] = [new Float32Array(rows * c), new Float32Array(c), new Float32Array(c)].map((a) => a.fill(Number.NaN));
            addon!.batchNormBackward([dy, x, y, gamma, mean, variance, dx, dgamma, dbeta], dims, threads, isa);
            const at = `[${rows}, ${c}]`;
            expect(relativeMaxError(mean, want.mean), `mean ${at}`).toBeLessThan(1e-6);
            expect(relativeMaxError(variance, want.variance), `variance ${at}`).toBeLessThan(1e-6);
            expect(relativeMaxError(y, want.y), `y ${at}`).toBeLessThan(1e-5);
            expect(relativeMaxError(dbeta, want.dbeta), `dbeta ${at}`).toBeLessThan(1e-5);
            expect(relativeMaxError(dgamma, want.dgamma), `dgamma ${at}`).toBeLessThan(1e-5);
            expect(relativeMaxError(dx, want.dx), `dx ${at}`).toBeLessThan(1e-4);
          }
        });
      }
    }
  }

  it('names the array that has the wrong size', () => {
    const a = new Float32Array(8);
    expect(() => addon!.batchNormForward([a, a, a, a, new Float32Array(3), a], Float64Array.of(1, 8, 1e-5, 0), 1)).toThrow(/array 4 must be a Float32Array of 8 elements/);
  });
});

describe.skipIf(skip)('fused batch-norm kernels on the onnxruntime backend', () => {
  let backend: OnnxruntimeBackend;
  let wasOn = false;
  beforeAll(async () => {
    backend = await activateOnnxruntime();
    wasOn = setFusedBatchNorm(false);
  });
  afterAll(() => setFusedBatchNorm(wasOn, timedKernel));

  /** y and the gradients of sum(y * w) for x [2,9,7,C] through batchNormTrain, fused or with tf ops. */
  function run(fused: boolean, relu: boolean): Float32Array[] {
    setFusedBatchNorm(fused, timedKernel);
    expect(tf.getKernel(BATCH_NORM_TRAIN, 'onnxruntime') !== undefined).toBe(fused);
    const shape = [2, 9, 7, 21];
    const x = tf.tensor4d(seededValues(2 * 9 * 7 * 21, 1).map((v) => 2 + 3 * v), shape as [number, number, number, number]);
    const w = tf.tensor4d(seededValues(2 * 9 * 7 * 21, 2), shape as [number, number, number, number]);
    const gamma = tf.tensor1d(seededValues(21, 3).map((v) => 1 + v / 2));
    const beta = tf.tensor1d(seededValues(21, 4));
    const bn = (xi: tf.Tensor, gi: tf.Tensor, bi: tf.Tensor) => batchNormTrain(xi, gi as tf.Tensor1D, bi as tf.Tensor1D, 1e-5, relu ? 'relu' : 'linear');
    const kept: tf.Tensor[] = [];
    const grads = tf.grads((xi: tf.Tensor, gi: tf.Tensor, bi: tf.Tensor) => {
      const out = bn(xi, gi, bi);
      kept.push(out.mean, out.variance);
      return tf.sum(tf.mul(out.y, w));
    })([x, gamma, beta]);
    const { y, mean, variance } = bn(x, gamma, beta);
    const result = [y, mean, variance, ...grads].map((t) => Float32Array.from(t.dataSync() as Float32Array));
    tf.dispose([x, w, gamma, beta, y, mean, variance, ...grads, ...kept]);
    return result;
  }

  // The native passes as ort-run.cc's custom ops inside the graph (where it is built: native-ort-run.test.ts
  // insists on it in CI), between graphs (batch-norm.cc), and the kernels' ONNX build.
  const variants = [
    ...(nativeOrtRun() ? [{ name: 'custom ops', native: true, directRun: true }] : []),
    { name: 'native passes between graphs', native: true, directRun: false },
    { name: 'ONNX build', native: false, directRun: false },
  ];
  for (const relu of [false, true]) {
    for (const { name, native, directRun } of variants) {
      for (const deferred of [true, false]) {
        it(`${name}, ${deferred ? 'recorded' : 'eager'}, ${relu ? 'ReLU' : 'linear'}: y, statistics and gradients match the tf-ops formulation`, () => {
          backend.setDeferred(deferred);
          const wasNative = setNativeBatchNorm(native);
          const wasDirect = setNativeOrtRun(directRun);
          try {
            const want = run(false, relu);
            const got = run(true, relu);
            const names = ['y', 'mean', 'variance', 'dx', 'dgamma', 'dbeta'];
            got.forEach((g, i) => expect(relativeMaxError(g, want[i]), names[i]).toBeLessThan(2e-5));
          } finally {
            setNativeBatchNorm(wasNative);
            setNativeOrtRun(wasDirect);
            backend.setDeferred(true);
          }
        });
      }
    }
  }
});
