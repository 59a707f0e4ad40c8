import type * as tf from '@tensorflow/tfjs';
import type { OnnxruntimeBackend } from '../backend.js';
import type { GraphBuilder } from '../onnx-graph.js';

/** Arguments an ORT kernel gets; returning null hands the call to the cpu kernel. */
export interface OrtKernelArgs {
  /** Named inputs; optional ones (bias, offset, ...) may be undefined. */
  inputs: Record<string, tf.TensorInfo>;
  attrs: tf.NamedAttrMap;
  backend: OnnxruntimeBackend;
}

export type OrtKernelFunc = (args: OrtKernelArgs) => tf.TensorInfo | tf.TensorInfo[] | null;

export interface OrtKernel {
  kernelName: string;
  run: OrtKernelFunc;
}

/**
 * Below these sizes an op stays in the cpu backend's JS kernel. Measured per call including tfjs's
 * own overhead (2 threads, GLIBC_TUNABLES): add of n floats, cpu vs ORT: n=1024 64 vs 55 us,
 * n=4096 104 vs 44 us, n=65536 1.8 ms vs 0.66 ms; broadcast multiply [n/16,16]x[16]: 42 vs 57 us
 * at n=1024, 88 vs 51 us at 4096; sum over axis 0: 176 vs 53 us already at 1024 (the cpu kernel
 * transposes first). A tiny op costs ~13 us of binding call plus JS feed/key work in ORT.
 */
export const thresholds = {
  /** Elementwise and layout ops: minimum output elements. */
  elements: 4096,
  /** Broadcasting binary ops (the cpu kernel's broadcast path allocates per element). */
  broadcast: 1024,
  /** Reductions: minimum input elements. */
  reduce: 1024,
  /** Products: minimum multiply-adds. */
  matmulMacs: 32768,
  /**
   * Contiguous Slice/SplitV/Concat stay in the cpu kernel, which returns a view for free. The model
   * exporter (export/trace.ts) turns this off so that every op on the input's path is an ORT graph.
   */
  cpuViews: true as boolean,
};

/** Changes the cpu/ORT switch-over sizes (tests set them to 0 to run every op in ORT). */
export function setOrtKernelThresholds(t: Partial<typeof thresholds>): typeof thresholds {
  const previous = { ...thresholds };
  Object.assign(thresholds, t);
  return previous;
}

/** The inputs of a kernel that takes a list (Concat, Pack, AddN): tfjs passes an array, or a map keyed by position. */
export function inputList(args: OrtKernelArgs): tf.TensorInfo[] {
  return (Array.isArray(args.inputs) ? args.inputs : Object.values(args.inputs)) as tf.TensorInfo[];
}

export function sizeOf(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Cache-key fragment for a tensor: shape and dtype. */
export function sig(t: tf.TensorInfo): string {
  return `${t.shape.join('x')}${t.dtype[0]}`;
}

export function sigs(ts: readonly (tf.TensorInfo | undefined)[]): string {
  let s = '';
  for (const t of ts) s += t ? `${sig(t)};` : '-;';
  return s;
}

/** A float32 tensor that ORT can read in place. */
export function isFloat(t: tf.TensorInfo | undefined): t is tf.TensorInfo {
  return !!t && t.dtype === 'float32';
}

export type Activation = 'linear' | 'relu' | 'relu6' | 'prelu' | 'elu' | 'leakyrelu' | 'sigmoid' | undefined;

/** Activations that a fused kernel can run inside its graph (prelu needs an extra input). */
export function applyActivation(g: GraphBuilder, y: string, act: Activation, leakyAlpha = 0.2, preluWeights?: string): string {
  switch (act) {
    case undefined:
    case 'linear':
      return y;
    case 'relu':
      return g.op('Relu', [y]);
    case 'relu6':
      return g.op('Clip', [y, g.float(0), g.float(6)]);
    case 'elu':
      return g.op('Elu', [y], { alpha: { f: 1 } });
    case 'leakyrelu':
      return g.op('LeakyRelu', [y], { alpha: { f: leakyAlpha } });
    case 'sigmoid':
      return g.op('Sigmoid', [y]);
    case 'prelu':
      if (!preluWeights) throw new Error('onnxruntime/kernels/util.ts: prelu activation without weights');
      return g.op('PRelu', [y, preluWeights]);
    default:
      throw new Error(`onnxruntime/kernels/util.ts: unknown activation ${String(act)}`);
  }
}

export const NHWC_TO_NCHW = [0, 3, 1, 2];
export const NCHW_TO_NHWC = [0, 2, 3, 1];
