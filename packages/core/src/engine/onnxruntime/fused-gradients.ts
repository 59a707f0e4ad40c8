import * as tf from '@tensorflow/tfjs';
import type { OnnxruntimeBackend } from './backend.js';
import type { GraphBuilder } from './onnx-graph.js';
import { sig, sigs, sizeOf, thresholds } from './kernels/util.js';
import { timed } from './register.js';

/**
 * Backend-specific gradients for the ops a batch-norm conv net is made of.
 *
 * tfjs builds each gradient from primitive kernels, and every kernel output crosses the ORT
 * boundary as a new array (onnxruntime-node 1.30 copies each output once more into a fresh
 * ArrayBuffer: ~0.3 ms per 4 MB, about as much as the op itself). One batch-norm layer's backward
 * pass (FusedBatchNorm + the two Means, Square and Sub of tf.moments + Relu) wrote ~20 full-size
 * tensors; with these gradients it writes 7. Products and quotients with a broadcast operand
 * (layer-norm gain and divisor) reduce dy * other inside one kernel instead of writing it. The gradients are registered globally but only take
 * effect while the 'onnxruntime' backend is active and the tensors are large enough for ORT; in
 * every other case the original tfjs gradient runs. The fused kernels have no gradients themselves
 * (no higher-order derivatives through them).
 */

const BACKEND = 'onnxruntime';

interface FusedKernel {
  kernelName: string;
  run(inputs: Record<string, tf.TensorInfo>, attrs: tf.NamedAttrMap, backend: OnnxruntimeBackend): tf.TensorInfo | tf.TensorInfo[];
}

const RELU_GRAD: FusedKernel = {
  kernelName: '_OrtReluGrad',
  run: ({ dy, x }, _a, backend) => {
    const key = `ReluGrad:${sigs([dy, x])}`;
    const build = (g: GraphBuilder) => {
      const d = g.input('float32', dy.shape);
      const xi = g.input('float32', x.shape);
      // dy * (x > 0): Mul of a cast mask measured 18.6 ms against 35 ms for Where at [2,224,224,64]; NaN in dy stays NaN as in tfjs.
      g.output(g.op('Mul', [d, g.op('Cast', [g.op('Greater', [xi, g.float(0)])], { to: { i: 1 } })]), 'float32', x.shape);
    };
    return backend.runGraph('_OrtReluGrad', key, build, [dy, x])[0];
  },
};

const SQUARE_GRAD: FusedKernel = {
  kernelName: '_OrtSquareGrad',
  run: ({ dy, x }, _a, backend) => {
    const key = `SquareGrad:${sigs([dy, x])}`;
    const build = (g: GraphBuilder) => {
      const d = g.input('float32', dy.shape);
      const xi = g.input('float32', x.shape);
      g.output(g.op('Mul', [d, g.op('Mul', [xi, g.float(2)])]), 'float32', x.shape);
    };
    return backend.runGraph('_OrtSquareGrad', key, build, [dy, x])[0];
  },
};

/** d(mean or sum over axes)/dx: dy (reduced shape) / n, broadcast back to x's shape. */
const BROADCAST_GRAD: FusedKernel = {
  kernelName: '_OrtReduceBroadcastGrad',
  run: ({ dy }, attrs, backend) => {
    const { keptShape, xShape, divisor } = attrs as { keptShape: number[]; xShape: number[]; divisor: number };
    const key = `ReduceBroadcastGrad:${sig(dy)}:${keptShape.join('x')}:${xShape.join('x')}:${divisor}`;
    const build = (g: GraphBuilder) => {
      let d = g.op('Reshape', [g.input('float32', dy.shape), g.int64(keptShape)]);
      if (divisor !== 1) d = g.op('Div', [d, g.float(divisor)]);
      g.output(g.op('Expand', [d, g.int64(xShape)]), 'float32', xShape);
    };
    return backend.runGraph('_OrtReduceBroadcastGrad', key, build, [dy])[0];
  },
};

/** Batch-norm dx with mean and variance held fixed: dy * (rsqrt(var + eps) * scale). */
const BATCH_NORM_GRAD_X: FusedKernel = {
  kernelName: '_OrtBatchNormGradX',
  run: ({ dy, variance, scale }, attrs, backend) => {
    const eps = attrs.varianceEpsilon as number;
    const inputs = scale ? [dy, variance, scale] : [dy, variance];
    const key = `BatchNormGradX:${sigs(inputs)}:${eps}`;
    const build = (g: GraphBuilder) => {
      const d = g.input('float32', dy.shape);
      const v = g.input('float32', variance.shape);
      let a = g.op('Reciprocal', [g.op('Sqrt', [g.op('Add', [v, g.float(eps)])])]);
      if (scale) a = g.op('Mul', [a, g.input('float32', scale.shape)]);
      g.output(g.op('Mul', [d, a]), 'float32', dy.shape);
    };
    return backend.runGraph('_OrtBatchNormGradX', key, build, inputs)[0];
  },
};

/**
 * Per-channel sums a batch-norm's parameter gradients need: S1 = sum(dy), S2 = sum(dy * (x - mean))
 * over all axes but the last, each a product with a ones vector (the full-size product stays inside
 * ORT). x, dy [..., C]; mean [C] -> two [C] tensors.
 */
const BATCH_NORM_GRAD_STATS: FusedKernel = {
  kernelName: '_OrtBatchNormGradStats',
  run: ({ dy, x, mean }, _a, backend) => {
    const c = x.shape[x.shape.length - 1];
    const n = sizeOf(x.shape) / c;
    const key = `BatchNormGradStats:${sigs([dy, x, mean])}`;
    const build = (g: GraphBuilder) => {
      const d = g.op('Reshape', [g.input('float32', dy.shape), g.int64([n, c])]);
      const xi = g.op('Reshape', [g.input('float32', x.shape), g.int64([n, c])]);
      const m = g.input('float32', mean.shape);
      const ones = g.float(new Array(n).fill(1), [1, n]);
      const s1 = g.op('MatMul', [ones, d]);
      const s2 = g.op('MatMul', [ones, g.op('Mul', [d, g.op('Sub', [xi, m])])]);
      g.output(g.op('Reshape', [s1, g.int64([c])]), 'float32', [c]);
      g.output(g.op('Reshape', [s2, g.int64([c])]), 'float32', [c]);
    };
    return backend.runGraph('_OrtBatchNormGradStats', key, build, [dy, x, mean]);
  },
};

/**
 * The gradient of the broadcast operand of a product: sum(dy * other) over the broadcast axes,
 * reshaped to the operand's shape, without writing the full-size product. (Layer-norm gains, the
 * normalising divisor of LayerNorm.)
 */
const MUL_REDUCE: FusedKernel = {
  kernelName: '_OrtMulReduce',
  run: ({ dy, other }, attrs, backend) => {
    const { axes, shape } = attrs as { axes: number[]; shape: number[] };
    const key = `MulReduce:${sigs([dy, other])}:${axes.join(',')}:${shape.join('x')}`;
    const build = (g: GraphBuilder) => {
      const m = g.op('Mul', [g.input('float32', dy.shape), g.input('float32', other.shape)]);
      const r = g.op('ReduceSum', [m, g.int64(axes)], { keepdims: { i: 0 } });
      g.output(g.op('Reshape', [r, g.int64(shape)]), 'float32', shape);
    };
    return backend.runGraph('_OrtMulReduce', key, build, [dy, other])[0];
  },
};

export const FUSED_GRADIENT_KERNELS: FusedKernel[] = [RELU_GRAD, SQUARE_GRAD, BROADCAST_GRAD, BATCH_NORM_GRAD_X, BATCH_NORM_GRAD_STATS, MUL_REDUCE];

let enabled = true;

/** A/B switch for benchmarks and tests: false runs tfjs's own gradients everywhere. */
export function setFusedGradientsEnabled(on: boolean): void {
  enabled = on;
}

function onOrt(...ts: tf.Tensor[]): boolean {
  return enabled && tf.getBackend() === BACKEND && ts.every((t) => t.dtype === 'float32') && sizeOf(ts[0].shape) >= thresholds.elements;
}

function run(kernelName: string, inputs: tf.NamedTensorMap, attrs: tf.NamedAttrMap = {}): tf.Tensor | tf.Tensor[] {
  return tf.engine().runKernel(kernelName, inputs, attrs);
}

type GradFunc = tf.GradConfig['gradFunc'];
type Fused = (dy: tf.Tensor, saved: tf.Tensor[], attrs: tf.NamedAttrMap) => ReturnType<GradFunc> | null;

const FUSED: Record<string, Fused> = {
  Relu: (dy, [x]) => (onOrt(dy, x) ? { x: () => run('_OrtReluGrad', { dy, x }) as tf.Tensor } : null),

  Square: (dy, [x]) => (onOrt(dy, x) ? { x: () => run('_OrtSquareGrad', { dy, x }) as tf.Tensor } : null),

  Multiply: (dy, [a, b]) => {
    const fa = broadcastSideGrad(dy, a, b);
    const fb = broadcastSideGrad(dy, b, a);
    if (!fa && !fb) return null;
    return {
      a: fa ?? (() => tf.mul(dy, tf.cast(b, 'float32'))),
      b: fb ?? (() => tf.mul(dy, tf.cast(a, 'float32'))),
    };
  },

  RealDiv: (dy, [a, b]) => {
    const sumDyA = broadcastSideGrad(dy, b, a);
    if (!sumDyA) return null;
    // Same formulas as tfjs: dA = dy / b (full size, a is not broadcast here), dB = -sum(dy * a) / b^2.
    return {
      a: () => tf.div(dy, tf.cast(b, 'float32')),
      b: () => tf.neg(tf.div(sumDyA(), tf.square(b))),
    };
  },

  Mean: (dy, [x], attrs) => reduceGrad(dy, x, attrs, true),
  Sum: (dy, [x], attrs) => reduceGrad(dy, x, attrs, false),

  FusedBatchNorm: (dy, saved, attrs) => {
    const [x, mean, variance, scale] = saved;
    if (!onOrt(dy, x) || mean.rank !== 1 || x.shape[x.rank - 1] !== mean.shape[0]) return null;
    const eps = attrs.varianceEpsilon as number;
    // The same formulas as tfjs's FusedBatchNorm gradient, with the per-channel factors pulled out
    // of the sums (sum(k * dy) = k * sum(dy)); results agree to float32 rounding.
    const [s1, s2] = run('_OrtBatchNormGradStats', { dy, x, mean }) as tf.Tensor[];
    const rstd = tf.rsqrt(tf.add(variance, eps));
    const scaleValue = scale ?? tf.scalar(1);
    return {
      x: () => run('_OrtBatchNormGradX', scale ? { dy, variance, scale } : { dy, variance }, { varianceEpsilon: eps }) as tf.Tensor,
      mean: () => tf.mul(tf.mul(tf.neg(rstd), scaleValue), s1),
      variance: () => tf.mul(tf.mul(tf.mul(tf.pow(rstd, 3), -0.5), scaleValue), s2),
      scale: () => tf.mul(rstd, s2),
      offset: () => tf.reshape(s1, mean.shape),
    };
  },
};

/**
 * For the operand `side` of a binary op that broadcast against `other`: a closure computing
 * sum(dy * other) over the broadcast axes in one fused kernel; null if `side` was not broadcast,
 * or the op is not on this backend / too small.
 */
function broadcastSideGrad(dy: tf.Tensor, side: tf.Tensor, other: tf.Tensor): (() => tf.Tensor) | null {
  if (!onOrt(dy, side, other) || other.shape.join() !== dy.shape.join()) return null;
  const axes = tf.backend_util.getReductionAxes(side.shape, dy.shape);
  if (axes.length === 0) return null;
  return () => run('_OrtMulReduce', { dy, other }, { axes, shape: side.shape }) as tf.Tensor;
}

function reduceGrad(dy: tf.Tensor, x: tf.Tensor, attrs: tf.NamedAttrMap, mean: boolean): ReturnType<GradFunc> | null {
  if (!onOrt(x) || dy.dtype !== 'float32') return null;
  const axes = tf.util.parseAxisParam(attrs.axis as number | number[], x.shape);
  const keptShape = x.shape.map((d, i) => (axes.includes(i) ? 1 : d));
  const divisor = mean ? sizeOf(axes.map((a) => x.shape[a])) : 1;
  return { x: () => run('_OrtReduceBroadcastGrad', { dy }, { keptShape, xShape: x.shape, divisor }) as tf.Tensor };
}

let registered = false;

/** Registers the fused kernels (onnxruntime backend only) and wraps the gradients. Idempotent. */
export function registerFusedGradients(): void {
  if (registered) return;
  for (const k of FUSED_GRADIENT_KERNELS) {
    tf.registerKernel({
      kernelName: k.kernelName,
      backendName: BACKEND,
      kernelFunc: (args) =>
        timed(k.kernelName, args, () => ({ out: k.run(args.inputs as Record<string, tf.TensorInfo>, args.attrs ?? {}, args.backend as OnnxruntimeBackend), fallback: false })),
    });
  }
  for (const [kernelName, fused] of Object.entries(FUSED)) {
    const original = tf.getGradient(kernelName);
    if (!original) throw new Error(`onnxruntime/fused-gradients.ts: tfjs has no gradient for ${kernelName}`);
    tf.registerGradient({
      ...original,
      gradFunc: (dy, saved, attrs) => fused(dy as tf.Tensor, saved, attrs ?? {}) ?? original.gradFunc(dy, saved, attrs as tf.NamedAttrMap),
    });
  }
  registered = true;
}
