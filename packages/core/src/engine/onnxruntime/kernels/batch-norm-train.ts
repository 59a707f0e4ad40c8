import * as tf from '@tensorflow/tfjs';
import type { OnnxruntimeBackend } from '../backend.js';
import type { NativeRun } from '../deferred.js';
import { loadedBatchNorm, nativeBatchNorm, nativeBatchNormStatus } from '../native.js';
import type { GraphBuilder } from '../onnx-graph.js';
import { sigs } from './util.js';

/**
 * Training-mode batch norm (+ ReLU) over the last axis as two kernels, forward and backward
 * (`nn/batch-norm-train.ts` uses them where the active backend has them), each run by
 * native/batch-norm.cc in two memory passes: between the ORT graphs of a recorded step (deferred.ts
 * splits the step's graph there).
 *
 * Why: as ONNX ops a layer is ~8 full-size passes forward (moments, centring, scaling, ReLU) and
 * ~10 backward, each writing a new tensor; the native forward reads x twice and writes y, the
 * backward reads dy, x and y twice and writes dx. [2,224,224,64] on this repo's 2-vCPU machine:
 * 3.7 ms forward, 10 ms backward.
 *
 *   forward  (x [..., C], gamma [C], beta [C]) -> y, batch mean [C], biased batch variance [C]
 *   backward (dy, x, y, gamma, mean, variance) -> dx, dgamma, dbeta
 *
 * `relu`: y = relu(bn(x)), and the backward gates dy by y > 0. The ONNX build below is what runs off
 * the cpu execution provider (and the reference the native passes are tested against).
 *
 * Off by default (`setFusedBatchNorm`, `LVIT_NATIVE_BN=1` turns it on): each native batch norm cuts
 * the step's graph, so every value computed before a cut and read after it (the activations the
 * backward reads) becomes a graph output, which onnxruntime-node copies: 670 -> 1093 MB a step on
 * the full-size LViT-T. On this repo's 2-vCPU machine that made that step 10-28 % slower, while the
 * base-16 U-Net step got 15 % faster and the full-width U-Net stayed within noise.
 */
export const BATCH_NORM_TRAIN = '_OrtBatchNormTrain';
export const BATCH_NORM_TRAIN_GRAD = '_OrtBatchNormTrainGrad';

export interface BatchNormTrainAttrs {
  eps: number;
  relu: boolean;
}

function forward(args: { inputs: tf.NamedTensorInfoMap; attrs?: tf.NamedAttrMap; backend: unknown }): tf.TensorInfo[] {
  const { x, gamma, beta } = args.inputs as Record<string, tf.TensorInfo>;
  const { eps, relu } = args.attrs as unknown as BatchNormTrainAttrs;
  const backend = args.backend as OnnxruntimeBackend;
  const c = checkChannels(BATCH_NORM_TRAIN, x, [gamma, beta]);
  const build = (g: GraphBuilder) => {
    const rows = asRows(g, g.input('float32', x.shape), x.shape);
    const [gm, bt] = [g.input('float32', [c]), g.input('float32', [c])];
    const mean = g.op('ReduceMean', [rows], { axes: { ints: [0] }, keepdims: { i: 0 } });
    const centred = g.op('Sub', [rows, mean]);
    const variance = g.op('ReduceMean', [g.op('Mul', [centred, centred])], { axes: { ints: [0] }, keepdims: { i: 0 } });
    const scale = g.op('Div', [gm, g.op('Sqrt', [g.op('Add', [variance, g.float(eps)])])]);
    let y = g.op('Add', [g.op('Mul', [centred, scale]), bt]);
    if (relu) y = g.op('Relu', [y]);
    g.output(g.op('Reshape', [y, g.int64(x.shape)]), 'float32', x.shape);
    g.output(mean, 'float32', [c]);
    g.output(variance, 'float32', [c]);
  };
  const run = nativePass('batchNormForward', x.shape, { eps, relu }, backend);
  return backend.runGraph(BATCH_NORM_TRAIN, `BatchNormTrain:${sigs([x, gamma, beta])}:${eps}:${relu}`, build, [x, gamma, beta], run);
}

function backward(args: { inputs: tf.NamedTensorInfoMap; attrs?: tf.NamedAttrMap; backend: unknown }): tf.TensorInfo[] {
  const { dy, x, y, gamma, mean, variance } = args.inputs as Record<string, tf.TensorInfo>;
  const { eps, relu } = args.attrs as unknown as BatchNormTrainAttrs;
  const backend = args.backend as OnnxruntimeBackend;
  const c = checkChannels(BATCH_NORM_TRAIN_GRAD, x, [gamma, mean, variance]);
  if (!tf.util.arraysEqual(dy.shape, x.shape) || !tf.util.arraysEqual(y.shape, x.shape)) {
    throw new Error(`onnxruntime/kernels/batch-norm-train.ts: dy [${dy.shape}] and y [${y.shape}] must have x's shape [${x.shape}]`);
  }
  const build = (g: GraphBuilder) => {
    const [d, xs, ys] = [dy, x, y].map((t) => asRows(g, g.input('float32', t.shape), t.shape));
    const [gm, m, v] = [g.input('float32', [c]), g.input('float32', [c]), g.input('float32', [c])];
    const n = rowsOf(x.shape);
    const grad = relu ? g.op('Mul', [d, g.op('Cast', [g.op('Greater', [ys, g.float(0)])], { to: { i: 1 } })]) : d;
    const inv = g.op('Reciprocal', [g.op('Sqrt', [g.op('Add', [v, g.float(eps)])])]);
    const centred = g.op('Sub', [xs, m]);
    const dbeta = g.op('ReduceSum', [grad, g.int64([0])], { keepdims: { i: 0 } });
    const dgamma = g.op('Mul', [g.op('ReduceSum', [g.op('Mul', [grad, centred]), g.int64([0])], { keepdims: { i: 0 } }), inv]);
    const a = g.op('Mul', [gm, inv]);
    const shifted = g.op('Sub', [grad, g.op('Div', [dbeta, g.float(n)])]);
    const slope = g.op('Div', [g.op('Mul', [g.op('Mul', [a, inv]), dgamma]), g.float(n)]);
    const dx = g.op('Sub', [g.op('Mul', [shifted, a]), g.op('Mul', [centred, slope])]);
    g.output(g.op('Reshape', [dx, g.int64(x.shape)]), 'float32', x.shape);
    g.output(dgamma, 'float32', [c]);
    g.output(dbeta, 'float32', [c]);
  };
  const inputs = [dy, x, y, gamma, mean, variance];
  const run = nativePass('batchNormBackward', x.shape, { eps, relu }, backend);
  return backend.runGraph(BATCH_NORM_TRAIN_GRAD, `BatchNormTrainGrad:${sigs(inputs)}:${eps}:${relu}`, build, inputs, run);
}

/** The addon's pass for x's shape (its arrays: the kernel's inputs, then its outputs), or undefined where it is not built or switched off. */
function nativePass(pass: 'batchNormForward' | 'batchNormBackward', xShape: number[], { eps, relu }: BatchNormTrainAttrs, backend: OnnxruntimeBackend): NativeRun | undefined {
  const native = nativeBatchNorm();
  if (!native) return undefined;
  const dims = Float64Array.of(rowsOf(xShape), xShape[xShape.length - 1], eps, relu ? 1 : 0);
  const threads = backend.options.intraOpNumThreads;
  return (ins, outs) => native[pass]([...ins, ...outs] as Float32Array[], dims, threads);
}

/** The channel count C of x [..., C], checking that x is float32 and every per-channel tensor is float32 [C]. */
function checkChannels(kernel: string, x: tf.TensorInfo, perChannel: tf.TensorInfo[]): number {
  const c = x.shape[x.shape.length - 1];
  if (x.shape.length < 2 || x.dtype !== 'float32') throw new Error(`onnxruntime/kernels/batch-norm-train.ts ${kernel}: x must be float32 [..., C], got ${x.dtype} [${x.shape}]`);
  for (const t of perChannel) {
    if (t.dtype !== 'float32' || t.shape.length !== 1 || t.shape[0] !== c) throw new Error(`onnxruntime/kernels/batch-norm-train.ts ${kernel}: per-channel inputs must be float32 [${c}], got ${t.dtype} [${t.shape}]`);
  }
  return c;
}

/** The positions a channel's statistics run over: N·H·W of x [N,H,W,C]. */
function rowsOf(shape: readonly number[]): number {
  return tf.util.sizeFromShape(shape as number[]) / shape[shape.length - 1];
}

/** x [..., C] as [rows, C]. */
function asRows(g: GraphBuilder, value: string, shape: readonly number[]): string {
  return g.op('Reshape', [value, g.int64([rowsOf(shape), shape[shape.length - 1]])]);
}

const KERNELS: tf.KernelConfig[] = [
  { kernelName: BATCH_NORM_TRAIN, backendName: 'onnxruntime', kernelFunc: forward as unknown as tf.KernelFunc },
  { kernelName: BATCH_NORM_TRAIN_GRAD, backendName: 'onnxruntime', kernelFunc: backward as unknown as tf.KernelFunc },
];

/**
 * Training batch norm through these kernels (registered on the 'onnxruntime' backend, each call
 * wrapped by `wrap`) or not (unregistered: nn/batch-norm-train.ts writes it with tf ops). On needs
 * the addon; returns whether they were on before.
 */
export function setFusedBatchNorm(on: boolean, wrap: (k: tf.KernelConfig) => tf.KernelFunc = (k) => k.kernelFunc): boolean {
  const was = tf.getKernel(BATCH_NORM_TRAIN, 'onnxruntime') !== undefined;
  const want = on && loadedBatchNorm() !== null;
  if (want === was) return was;
  for (const k of KERNELS) {
    if (want) tf.registerKernel({ ...k, kernelFunc: wrap(k) });
    else tf.unregisterKernel(k.kernelName, k.backendName);
  }
  return was;
}

/** Which batch-norm path training takes, for the backend's status line. */
export function fusedBatchNormStatus(): string {
  if (tf.getKernel(BATCH_NORM_TRAIN, 'onnxruntime') !== undefined) return `fused kernels, ${nativeBatchNormStatus()}`;
  return `ONNX ops (fused native kernels: LVIT_NATIVE_BN=1; ${nativeBatchNormStatus()})`;
}
