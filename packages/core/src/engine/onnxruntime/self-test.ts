import * as tf from '@tensorflow/tfjs';
import { Rng } from '../../rng.js';
import { relativeMaxError } from '../kernels/reference.js';
import { onnxruntimeStats, resetOnnxruntimeStats } from './stats.js';

/**
 * One gradient step of a tiny conv net (fused conv+bias, relu, batch-norm statistics, max-pool,
 * 2x2/s2 transposed conv, channel concat, 1x1 conv, sigmoid, MSE) on the backend under test and on
 * the cpu backend; every gradient must agree. Shapes are just large enough that the ORT kernels,
 * not their cpu fallbacks, run (checked through the kernel stats).
 */

/**
 * Max |ort - cpu| / max |cpu| per gradient tensor. Float32 sums over the 512 pixels in another order
 * explain up to n·u ≈ 3e-5; measured 3.4e-6 (1 and 2 threads). A 1 % kernel error gives >= 1e-2
 * (register.test.ts injects one into each kernel below).
 */
const TOLERANCE = 1e-4;
const MUST_RUN_IN_ORT = ['FusedConv2D', 'Conv2DBackpropFilter', 'Conv2DBackpropInput', 'MaxPoolGrad', 'MaxPool', 'FusedBatchNorm'];

interface Inputs {
  shapes: number[][];
  data: Float32Array[];
}

function makeInputs(): Inputs {
  const rng = new Rng(1234);
  const shapes = [
    [2, 16, 16, 16], // x
    [3, 3, 16, 16], // conv weight
    [16], // conv bias
    [16], // bn gamma
    [16], // bn beta
    [2, 2, 16, 16], // transposed conv weight [k,k,out,in]
    [1, 1, 32, 4], // 1x1 head
    [2, 16, 16, 4], // target
  ];
  const data = shapes.map((s, i) => {
    const n = s.reduce((a, b) => a * b, 1);
    const scale = i === 0 || i === 7 ? 1 : 0.3;
    return new Float32Array(n).map(() => (rng.next() * 2 - 1) * scale + (i === 3 ? 1 : 0));
  });
  return { shapes, data };
}

function loss(x: tf.Tensor4D, w: tf.Tensor4D, b: tf.Tensor1D, gamma: tf.Tensor1D, beta: tf.Tensor1D, wt: tf.Tensor4D, head: tf.Tensor4D, target: tf.Tensor4D): tf.Scalar {
  // Under a gradient tape tfjs fuses only linear activations (what the suite's Conv2d uses).
  const h = tf.relu(tf.fused.conv2d({ x, filter: w, strides: 1, pad: 'same', bias: b, activation: 'linear' }));
  const { mean, variance } = tf.moments(h, [0, 1, 2]);
  const hn = tf.batchNorm(h, mean, variance, beta, gamma, 1e-5) as tf.Tensor4D;
  const p = tf.maxPool(hn, 2, 2, 'valid');
  const u = tf.conv2dTranspose(p, wt, [2, 16, 16, 16], 2, 'valid');
  const c = tf.concat([u, hn], 3);
  const y = tf.conv2d(c, head, 1, 'same');
  return tf.mean(tf.square(tf.sub(tf.sigmoid(y), target)));
}

async function gradientsOn(backend: string, inp: Inputs): Promise<Float32Array[]> {
  await tf.setBackend(backend);
  return tf.tidy(() => {
    const ts = inp.data.map((d, i) => tf.tensor(d, inp.shapes[i]));
    const f = (...a: tf.Tensor[]) =>
      loss(a[0] as tf.Tensor4D, a[1] as tf.Tensor4D, a[2] as tf.Tensor1D, a[3] as tf.Tensor1D, a[4] as tf.Tensor1D, a[5] as tf.Tensor4D, a[6] as tf.Tensor4D, ts[7] as tf.Tensor4D);
    const grads = tf.grads(f)(ts.slice(0, 7));
    return grads.map((g) => g.dataSync() as Float32Array);
  });
}

/** Returns null when the backend matches the cpu backend, else the reason it does not. */
export async function gradientSelfTest(backendName: string): Promise<string | null> {
  const inp = makeInputs();
  resetOnnxruntimeStats();
  const got = await gradientsOn(backendName, inp);
  const inOrt = new Set(onnxruntimeStats().filter((s) => !s.fallback && s.calls > 0).map((s) => s.kernel));
  resetOnnxruntimeStats();
  const missing = MUST_RUN_IN_ORT.filter((k) => !inOrt.has(k));
  if (missing.length) return `self-test: kernels did not run in ORT: ${missing.join(', ')}`;
  const want = await gradientsOn('cpu', inp);
  const names = ['x', 'conv.weight', 'conv.bias', 'bn.gamma', 'bn.beta', 'up.weight', 'head.weight'];
  for (let i = 0; i < want.length; i++) {
    const e = relativeMaxError(got[i], want[i]);
    if (!(e <= TOLERANCE)) return `self-test: gradient of ${names[i]} differs from the cpu backend (relative error ${e.toExponential(2)})`;
  }
  return null;
}
