import * as tf from '@tensorflow/tfjs';
import type { OnnxruntimeBackend } from '../backend.js';
import type { NativeRun } from '../deferred.js';
import { CUSTOM_OP_DOMAIN, loadedBatchNorm, nativeBatchNorm, nativeBatchNormStatus, nativeOrtRun } from '../native.js';
import type { GraphBuilder } from '../onnx-graph.js';
import { sigs } from './util.js';

/**
 * Training-mode batch norm (+ ReLU) over the last axis as two kernels, forward and backward
 * (`nn/batch-norm-train.ts` uses them where the active backend has them), each two memory passes of
 * native/batch-norm-train.h: as ort-run.cc's custom ops inside the step's ORT graph where cpu sessions
 * run through that runner, else run by native/batch-norm.cc between the ORT graphs of a recorded step
 * (deferred.ts splits the step's graph there).
 *
 * Why: as ONNX ops a layer is ~8 full-size passes forward (moments, centring, scaling, ReLU) and
 * ~10 backward, each writing a new tensor; the native forward reads x twice and writes y, the
 * backward reads dy, x and y twice and writes dx. [2,224,224,64] on this repo's 2-vCPU machine:
 * 3.7 ms forward, 10 ms backward.
 *
 *   forward  (x [..., C], gamma [C], beta [C]) -> y, batch mean [C], biased batch variance [C]
 *   backward (dy, x, y, gamma, mean, variance) -> dx, dgamma, dbeta
 *
 * `relu`: y = relu(bn(x)), and the backward gates dy by y > 0. The ONNX build below is what runs with
 * the native passes switched off (and the reference they are tested against).
 *
 * On by default where they run inside the graph (`fusedBatchNormWanted`): there, median ms a step on
 * this repo's 2-vCPU machine, off -> on, U-Net base 16 163 -> 143, full-width U-Net ~1555 -> 1500-1525,
 * LViT-T full size ~2327 -> 2182-2255, and 190-210 MB less peak RSS at full size. Between graphs
 * (`LVIT_NATIVE_BN=1` where ort-run.cc is missing) each batch norm cuts the step's graph, so every
 * value computed before a cut and read after it (the activations the backward reads) becomes a graph
 * output, which onnxruntime-node copies: 670 -> 1093 MB a step on the full-size LViT-T, 10-28 %
 * slower (stop 28).
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
  const inputs = [x, gamma, beta];
  if (inGraphOps(backend)) return backend.runGraph(BATCH_NORM_TRAIN, `BatchNormTrain:${sigs(inputs)}:${eps}:${relu}:op`, customOp('BatchNormTrain', inputs, { eps, relu }, backend), inputs);
  const run = nativePass('batchNormForward', x.shape, { eps, relu }, backend);
  return backend.runGraph(BATCH_NORM_TRAIN, `BatchNormTrain:${sigs(inputs)}:${eps}:${relu}`, build, inputs, run);
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
  if (inGraphOps(backend)) return backend.runGraph(BATCH_NORM_TRAIN_GRAD, `BatchNormTrainGrad:${sigs(inputs)}:${eps}:${relu}:op`, customOp('BatchNormTrainGrad', inputs, { eps, relu }, backend), inputs);
  const run = nativePass('batchNormBackward', x.shape, { eps, relu }, backend);
  return backend.runGraph(BATCH_NORM_TRAIN_GRAD, `BatchNormTrainGrad:${sigs(inputs)}:${eps}:${relu}`, build, inputs, run);
}

/** Whether the native passes run as ort-run.cc's custom ops: switched on, and this backend's sessions know them (cpu sessions through the direct runner). */
function inGraphOps(backend: OnnxruntimeBackend): boolean {
  return nativeBatchNorm() !== null && backend.options.executionProvider === 'cpu' && nativeOrtRun() !== null;
}

/**
 * The graph of one ort-run.cc custom op (CUSTOM_OP_DOMAIN): `inputs` as they come (x or dy first,
 * [..., C]), outputs x's shape then [C] twice. It stays inside the step's graph: no cut.
 */
function customOp(op: 'BatchNormTrain' | 'BatchNormTrainGrad', inputs: tf.TensorInfo[], { eps, relu }: BatchNormTrainAttrs, backend: OnnxruntimeBackend) {
  const shape = inputs[0].shape;
  const c = shape[shape.length - 1];
  return (g: GraphBuilder) => {
    const attrs = { eps: { f: eps }, relu: { i: relu ? 1 : 0 }, threads: { i: backend.options.intraOpNumThreads } };
    const outs = g.ops(op, inputs.map((t) => g.input('float32', t.shape)), attrs, 3, CUSTOM_OP_DOMAIN);
    g.output(outs[0], 'float32', shape);
    g.output(outs[1], 'float32', [c]);
    g.output(outs[2], 'float32', [c]);
  };
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

/**
 * Whether training batch norm runs through these kernels on `executionProvider`: by default where the
 * passes run inside the step's graph (cpu sessions through ort-run.cc); `LVIT_NATIVE_BN=1` also
 * elsewhere (between graphs, cutting them), `LVIT_NATIVE_BN=0` nowhere.
 */
export function fusedBatchNormWanted(executionProvider: 'cpu' | 'webgpu'): boolean {
  const setting = process.env.LVIT_NATIVE_BN;
  if (setting === '0' || setting === '1') return setting === '1';
  return executionProvider === 'cpu' && nativeOrtRun() !== null;
}

/** Which batch-norm path training takes, for the backend's status line. */
export function fusedBatchNormStatus(executionProvider: 'cpu' | 'webgpu'): string {
  const where = executionProvider === 'cpu' && nativeOrtRun() ? 'inside the graphs (custom ops)' : 'between graphs';
  if (tf.getKernel(BATCH_NORM_TRAIN, 'onnxruntime') !== undefined) return `fused kernels, ${nativeBatchNormStatus()}, ${where}`;
  return `ONNX ops (fused native kernels: ${nativeBatchNormStatus()}; LVIT_NATIVE_BN=1 turns them on)`;
}
