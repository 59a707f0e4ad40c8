import * as tf from '@tensorflow/tfjs';

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
 * they carry no gradient.
 */
export function batchNormTrain<T extends tf.Tensor>(x: T, gamma: tf.Tensor1D, beta: tf.Tensor1D, eps: number): { y: T; mean: tf.Tensor1D; variance: tf.Tensor1D } {
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
  return { y, mean, variance };
}
