import * as tf from '@tensorflow/tfjs';
import { BATCH_NORM_TRAIN, BATCH_NORM_TRAIN_GRAD } from '../engine/onnxruntime/kernels/batch-norm-train.js';

export type BatchNormActivation = 'linear' | 'relu';

/**
 * Training-mode batch norm over every axis but the last (channels), with the closed-form backward
 * as one custom gradient instead of autograd through tf.moments + tf.batchNorm:
 *
 *   x̂ = (x - mean) / sqrt(var + eps),  y = gamma x̂ + beta          (biased batch variance, as torch)
 *   dbeta = Σ dy,  dgamma = Σ dy x̂,  dx = gamma / sqrt(var + eps) · (dy - dbeta/n - x̂ dgamma/n)
 *
 * Autograd through the moments wrote ~12 full-size tensors per layer in the backward pass (the mean
 * and variance paths, their broadcasts and the three gradient sums into x); this writes 4 and keeps
 * x̂ from the forward pass. Returns the batch mean and variance too (for the running statistics);
 * they carry no gradient. `activation` 'relu' returns relu(y).
 *
 * Where the active backend has the two fused kernels (the onnxruntime engine with
 * native/batch-norm.cc built), forward and backward are one kernel each, ReLU included.
 */
export function batchNormTrain<T extends tf.Tensor>(x: T, gamma: tf.Tensor1D, beta: tf.Tensor1D, eps: number, activation: BatchNormActivation = 'linear'): { y: T; mean: tf.Tensor1D; variance: tf.Tensor1D } {
  if (tf.getKernel(BATCH_NORM_TRAIN, tf.getBackend()) !== undefined) return fusedBatchNormTrain(x, gamma, beta, eps, activation === 'relu');
  const axes = x.shape.slice(0, -1).map((_, i) => i);
  const n = x.size / x.shape[x.rank - 1];
  let stats: { mean: tf.Tensor1D; variance: tf.Tensor1D } | null = null;
  const normalize = tf.customGrad(((xi: tf.Tensor, g: tf.Tensor, b: tf.Tensor, save: tf.GradSaveFunc) => {
    const mean = tf.mean(xi, axes) as tf.Tensor1D;
    const centred = tf.sub(xi, mean);
    const variance = tf.mean(tf.square(centred), axes) as tf.Tensor1D;
    const invStd = tf.rsqrt(tf.add(variance, eps));
    const xhat = tf.mul(centred, invStd);
    stats = { mean: tf.keep(mean), variance: tf.keep(variance) };
    save([xhat, invStd, g]);
    return {
      value: tf.add(tf.mul(xhat, g), b),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xh, inv, gain] = saved;
        const dbeta = tf.sum(dy, axes);
        const dgamma = tf.sum(tf.mul(dy, xh), axes);
        const centredDy = tf.sub(dy, tf.div(dbeta, n));
        const dx = tf.mul(tf.sub(centredDy, tf.mul(xh, tf.div(dgamma, n))), tf.mul(gain, inv));
        return [dx, dgamma, dbeta];
      },
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  const y = normalize(x, gamma, beta) as T;
  const { mean, variance } = stats!;
  return { y: activation === 'relu' ? (tf.relu(y) as T) : y, mean, variance };
}

/** The same through the backend's fused kernels (kernels/batch-norm-train.ts): x, y and the batch statistics are saved for the backward. */
function fusedBatchNormTrain<T extends tf.Tensor>(x: T, gamma: tf.Tensor1D, beta: tf.Tensor1D, eps: number, relu: boolean): { y: T; mean: tf.Tensor1D; variance: tf.Tensor1D } {
  const attrs = { eps, relu } as unknown as tf.NamedAttrMap;
  let stats: { mean: tf.Tensor1D; variance: tf.Tensor1D } | null = null;
  const normalize = tf.customGrad(((xi: tf.Tensor, g: tf.Tensor, b: tf.Tensor, save: tf.GradSaveFunc) => {
    const [y, mean, variance] = tf.engine().runKernel(BATCH_NORM_TRAIN, { x: xi, gamma: g, beta: b }, attrs) as tf.Tensor[];
    stats = { mean: tf.keep(mean) as tf.Tensor1D, variance: tf.keep(variance) as tf.Tensor1D };
    save([xi, y, g, mean, variance]);
    return {
      value: y,
      gradFunc: (dy: tf.Tensor, [xs, ys, gs, ms, vs]: tf.Tensor[]) =>
        tf.engine().runKernel(BATCH_NORM_TRAIN_GRAD, { dy, x: xs, y: ys, gamma: gs, mean: ms, variance: vs }, attrs) as tf.Tensor[],
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  const y = normalize(x, gamma, beta) as T;
  return { y, ...stats! };
}
