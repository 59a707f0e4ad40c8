import * as tf from '@tensorflow/tfjs';
import { asWasmBackend } from '../heap.js';
import { stockKernel, withKernelScope } from '../kernel-scope.js';

/**
 * The wasm Sum/Mean transpose the reduced axes innermost and then sum rows. Reducing over the
 * leading axes of an NHWC tensor (every bias and BatchNorm gradient and tf.moments: axes [0,1,2] of
 * [B,H,W,C]) therefore copies the whole tensor first: ~2-3 ms for [4,128,128,16], 13.7% of an
 * official U-Net step. The same reduction is a global average pool, which XNNPACK runs as one SIMD
 * pass: [R,C] is viewed as [1, a, b, C] (a*b = R) and pooled with an a x b window (~0.15 ms;
 * float32 accumulation like the stock kernel). Sum scales the mean by R. Other reductions keep the
 * stock kernel.
 */

/** Rows R = a*b of a leading-axes reduction and the pooling view [a, b]; null when not one. */
export function leadingReduction(shape: readonly number[], axis: number | number[]): { a: number; b: number; cols: number } | null {
  const axes = tf.util.parseAxisParam(axis, shape as number[]).sort((x, y) => x - y);
  if (axes.length === 0 || axes.length === shape.length || axes.some((ax, i) => ax !== i)) return null;
  const k = axes.length;
  const a = shape.slice(0, Math.max(k - 1, 1)).reduce((p, d) => p * d, 1);
  const b = k === 1 ? 1 : shape[k - 1];
  const cols = shape.slice(k).reduce((p, d) => p * d, 1);
  return { a, b, cols };
}

/** Kernel for Sum (mean = false) or Mean (mean = true) over leading axes. */
export function leadingAxesReduction(kernelName: 'Sum' | 'Mean'): tf.KernelFunc {
  return (args) => {
    const x = (args.inputs as { x: tf.TensorInfo }).x;
    const { axis, keepDims } = args.attrs as unknown as tf.SumAttrs;
    const plan = x.dtype === 'float32' ? leadingReduction(x.shape, axis) : null;
    if (!plan || plan.a * plan.b * plan.cols === 0) return stockKernel(kernelName, 'wasm').kernelFunc(args);
    const axes = tf.util.parseAxisParam(axis, x.shape);
    const outShape = keepDims ? x.shape.map((d, i) => (axes.includes(i) ? 1 : d)) : x.shape.filter((_, i) => !axes.includes(i));
    const rows = plan.a * plan.b;
    return withKernelScope(args.backend, 'wasm', (s) => {
      const view = s.reshape(x, [1, plan.a, plan.b, plan.cols]);
      const pooled = s.run('AvgPool', { x: view }, { filterSize: [plan.a, plan.b], strides: [plan.a, plan.b], pad: 'valid', dimRoundingMode: undefined as unknown as string });
      if (kernelName === 'Mean') return s.reshape(pooled, outShape);
      const backend = asWasmBackend(args.backend);
      const out = backend.makeOutput(outShape, 'float32');
      const mean = backend.typedArrayFromHeap(pooled);
      const sum = backend.typedArrayFromHeap(out);
      for (let c = 0; c < plan.cols; c++) sum[c] = mean[c] * rows;
      return out;
    });
  };
}

export const wasmSumConfig: tf.KernelConfig = { kernelName: 'Sum', backendName: 'wasm', kernelFunc: leadingAxesReduction('Sum') };
