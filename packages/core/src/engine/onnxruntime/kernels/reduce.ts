import * as tf from '@tensorflow/tfjs';
import type { GraphBuilder } from '../onnx-graph.js';
import { thresholds, OrtKernel, OrtKernelArgs, sig, sizeOf } from './util.js';

/**
 * Reductions over float32 inputs: Sum, Mean, Max, Min, Prod and ArgMax/ArgMin (int64 cast to int32).
 * Sum and Mean over one contiguous block of axes (the batch-norm statistics and gradients reduce
 * [B,H,W] of [B,H,W,C]) are a product with a ones vector: MLAS runs it at memory speed, where
 * ReduceSum over leading axes with few channels was up to 20x slower (2.25 ms vs 0.10 ms for
 * [4,128,128,16]). Other axis sets use ONNX Reduce* (opset 17). Small inputs stay in the cpu backend.
 */

const REDUCE: Record<string, string> = { Sum: 'ReduceSum', Mean: 'ReduceMean', Max: 'ReduceMax', Min: 'ReduceMin', Prod: 'ReduceProd' };

function axesOf(args: OrtKernelArgs, rank: number): number[] {
  const x = args.inputs.x;
  // Max names its axes `reductionIndices`; the other reductions `axis`.
  const axis = (args.attrs.axis ?? args.attrs.reductionIndices) as number | number[];
  return tf.util.parseAxisParam(axis, x.shape).map((a) => (a < 0 ? a + rank : a));
}

function runReduce(name: string, args: OrtKernelArgs): tf.TensorInfo | null {
  const x = args.inputs.x;
  if (x.dtype !== 'float32' || sizeOf(x.shape) < thresholds.reduce) return null;
  const axes = axesOf(args, x.shape.length);
  if (axes.length === 0) return null;
  const keepDims = !!args.attrs.keepDims;
  const key = `${name}:${sig(x)}:${axes.join(',')}:${keepDims}`;
  const outShape = keepDims ? x.shape.map((d, i) => (axes.includes(i) ? 1 : d)) : x.shape.filter((_, i) => !axes.includes(i));
  const sumLike = name === 'Sum' || name === 'Mean';
  const block = sumLike ? contiguousBlock(x.shape, axes) : null;
  const build = (g: GraphBuilder) => {
    const xi = g.input('float32', x.shape);
    if (block) {
      g.output(reduceByMatMul(g, xi, block, outShape, name === 'Mean'), 'float32', outShape);
      return;
    }
    const keep = { keepdims: { i: keepDims ? 1 : 0 } };
    const y =
      name === 'Sum'
        ? g.op('ReduceSum', [xi, g.int64(axes)], keep)
        : g.op(REDUCE[name], [xi], { ...keep, axes: { ints: axes } });
    g.output(y, 'float32', outShape);
  };
  return args.backend.runGraph(name, key, build, [x])[0];
}

/** [pre, red, post] sizes when `axes` are one contiguous run, else null. */
function contiguousBlock(shape: number[], axes: number[]): [number, number, number] | null {
  const sorted = [...axes].sort((a, b) => a - b);
  if (sorted.some((a, i) => i > 0 && a !== sorted[i - 1] + 1)) return null;
  const lo = sorted[0];
  const hi = sorted[sorted.length - 1];
  return [sizeOf(shape.slice(0, lo)), sizeOf(shape.slice(lo, hi + 1)), sizeOf(shape.slice(hi + 1))];
}

function reduceByMatMul(g: GraphBuilder, x: string, [pre, red, post]: [number, number, number], outShape: number[], mean: boolean): string {
  const w = mean ? 1 / red : 1;
  let y: string;
  if (post === 1) {
    y = g.op('MatMul', [g.op('Reshape', [x, g.int64([pre, red])]), g.float(new Array(red).fill(w), [red, 1])]);
  } else if (pre === 1) {
    y = g.op('MatMul', [g.float(new Array(red).fill(w), [1, red]), g.op('Reshape', [x, g.int64([red, post])])]);
  } else {
    y = g.op('MatMul', [g.float(new Array(red).fill(w), [1, red]), g.op('Reshape', [x, g.int64([pre, red, post])])]);
  }
  return g.op('Reshape', [y, g.int64(outShape)]);
}

function runArg(name: 'ArgMax' | 'ArgMin', args: OrtKernelArgs): tf.TensorInfo | null {
  const x = args.inputs.x;
  if (x.dtype !== 'float32' || sizeOf(x.shape) < thresholds.reduce) return null;
  const axes = axesOf(args, x.shape.length);
  if (axes.length !== 1) return null;
  const key = `${name}:${sig(x)}:${axes[0]}`;
  const build = (g: GraphBuilder) => {
    // select_last_index=0: the first extreme wins, as in the cpu kernel.
    const y = g.op(name, [g.input('float32', x.shape)], { axis: { i: axes[0] }, keepdims: { i: 0 }, select_last_index: { i: 0 } });
    g.output(g.op('Cast', [y], { to: { i: 6 } }), 'int32', x.shape.filter((_, i) => i !== axes[0]));
  };
  return args.backend.runGraph(name, key, build, [x])[0];
}

export const reduceKernels: OrtKernel[] = [
  ...Object.keys(REDUCE).map((name) => ({ kernelName: name, run: (args: OrtKernelArgs) => runReduce(name, args) })),
  { kernelName: 'ArgMax', run: (args) => runArg('ArgMax', args) },
  { kernelName: 'ArgMin', run: (args) => runArg('ArgMin', args) },
];
