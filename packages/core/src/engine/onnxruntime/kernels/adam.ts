import * as tf from '@tensorflow/tfjs';
import type { OnnxruntimeBackend } from '../backend.js';
import type { PooledArray } from '../buffer-pool.js';
import { nativeAdam } from '../native.js';

/**
 * Adam's update of every parameter in one kernel call, one pass over each parameter's arrays
 * (`train/optim.ts` runs it where the active backend has it): reads p, m, v, g once and writes p', m',
 * v' into recycled arrays.
 *
 * Why: written with tf ops the update is ~13 elementwise kernels per parameter, each a full memory
 * pass; over LViT-T's 29.9 M parameters that measured ~400 ms a step against 69 ms for
 * `torch.optim.Adam` (same machine, 2 threads). One pass: 187 ms as the JS loop below (single-threaded
 * scalar JS), 65-72 ms as native/adam.cc on 2 threads. The arithmetic is torch's (see optim.ts), in
 * float64, the moments stored as float32.
 */
export const FUSED_ADAM = '_OrtAdam';

/** Hyper-parameters of one update; per parameter, since each keeps its own step count (as in torch). */
export interface FusedAdamAttrs {
  beta1: number;
  beta2: number;
  eps: number;
  /** Per parameter: lr / (1 - beta1^t) */
  stepSizes: number[];
  /** Per parameter: sqrt(1 - beta2^t) */
  biasCorrection2Sqrts: number[];
}

/** The kernel's inputs for parameters 0..n-1: p<i>, m<i>, v<i>, g<i>; outputs p', m', v' per parameter, in that order. */
export function fusedAdamInputs<T>(slots: { param: T; m: T; v: T; grad: T }[]): Record<string, T> {
  const inputs: Record<string, T> = {};
  slots.forEach((s, i) => Object.assign(inputs, { [`p${i}`]: s.param, [`m${i}`]: s.m, [`v${i}`]: s.v, [`g${i}`]: s.grad }));
  return inputs;
}

/** Every parameter's update in one kernel call: one native pass over all of them where the addon is built, else one JS pass each. */
function fusedAdam(args: { inputs: tf.NamedTensorInfoMap; attrs?: tf.NamedAttrMap; backend: unknown }): tf.TensorInfo[] {
  const a = args.attrs as unknown as FusedAdamAttrs;
  const backend = args.backend as OnnxruntimeBackend;
  backend.materialize(args.inputs); // webgpu EP: GPU-resident tensors get their CPU arrays (correct, not fast)
  const values = (x: tf.TensorInfo) => backend.data.get(x.dataId)!.values as Float32Array; // a recorded gradient runs its program here
  const arrays: Float32Array[] = [];
  const outputs: tf.TensorInfo[] = [];
  for (let i = 0; i < a.stepSizes.length; i++) {
    const t = (name: string) => args.inputs[`${name}${i}`] as tf.TensorInfo;
    const param = t('p');
    for (const x of [param, t('m'), t('v'), t('g')]) {
      if (x.dtype !== 'float32' || !tf.util.arraysEqual(x.shape, param.shape)) {
        throw new Error(`onnxruntime/kernels/adam.ts: Adam needs float32 p, m, v, g of one shape; parameter ${i} has ${x.dtype} [${x.shape.join(',')}] for [${param.shape.join(',')}]`);
      }
    }
    const out = [0, 1, 2].map(() => backend.pool.acquire(Float32Array, values(param).length) as Float32Array);
    arrays.push(values(param), values(t('m')), values(t('v')), values(t('g')), ...out);
    for (const arr of out) outputs.push(backend.adoptArray(arr as PooledArray, param.shape, 'float32'));
  }
  const invs = a.biasCorrection2Sqrts.map((bc2) => 1 / bc2);
  const native = nativeAdam();
  if (native) {
    native.adamStep(arrays, Float64Array.from(a.stepSizes), Float64Array.from(invs), Float64Array.of(a.beta1, a.beta2, a.eps), backend.options.intraOpNumThreads);
  } else {
    for (let i = 0; i < a.stepSizes.length; i++) {
      const [p, m, v, g, ...out] = arrays.slice(7 * i, 7 * i + 7);
      updateOne(p, m, v, g, out, a.beta1, a.beta2, a.eps, a.stepSizes[i], invs[i]);
    }
  }
  return outputs;
}

/**
 * One parameter; the moments enter the step unrounded (float64), then are stored as float32.
 * Multiplying by inv = 1/bc2 saves a division (~25 % of the loop). native/adam.cc does the same
 * arithmetic in the same order.
 */
export function updateOne(p: Float32Array, m0: Float32Array, v0: Float32Array, g: Float32Array, [p1, m1, v1]: Float32Array[], beta1: number, beta2: number, eps: number, stepSize: number, inv: number): void {
  const [c1, c2] = [1 - beta1, 1 - beta2];
  for (let i = 0; i < p.length; i++) {
    const gi = g[i];
    const mi = beta1 * m0[i] + c1 * gi;
    const vi = beta2 * v0[i] + c2 * gi * gi;
    m1[i] = mi;
    v1[i] = vi;
    p1[i] = p[i] - (stepSize * mi) / (Math.sqrt(vi) * inv + eps);
  }
}

export const fusedAdamKernel: tf.KernelConfig = { kernelName: FUSED_ADAM, backendName: 'onnxruntime', kernelFunc: fusedAdam as unknown as tf.KernelFunc };
