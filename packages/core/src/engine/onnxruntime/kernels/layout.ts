import * as tf from '@tensorflow/tfjs';
import type { GraphBuilder } from '../onnx-graph.js';
import { inputList, thresholds, OrtKernel, OrtKernelArgs, sig, sigs, sizeOf } from './util.js';

/**
 * Data-movement kernels whose cpu versions walk TensorBuffer.get() per element: Transpose, Tile,
 * Concat, SplitV (the channel-concat gradient), strided Slice, Pack, Unpack, PadV2; and Softmax. float32 only;
 * contiguous slices stay in the cpu kernel, which returns a view for free.
 */

function runTranspose(args: OrtKernelArgs): tf.TensorInfo | null {
  const x = args.inputs.x;
  const perm = args.attrs.perm as number[];
  if (x.dtype !== 'float32' || sizeOf(x.shape) < thresholds.elements) return null;
  const key = `Transpose:${sig(x)}:${perm.join(',')}`;
  const build = (g: GraphBuilder) => g.output(g.op('Transpose', [g.input('float32', x.shape)], { perm: { ints: perm } }), 'float32');
  return args.backend.runGraph('Transpose', key, build, [x])[0];
}

function runTile(args: OrtKernelArgs): tf.TensorInfo | null {
  const x = args.inputs.x;
  const reps = args.attrs.reps as number[];
  if (x.dtype !== 'float32' || sizeOf(x.shape) * sizeOf(reps) < thresholds.elements) return null;
  const key = `Tile:${sig(x)}:${reps.join(',')}`;
  const build = (g: GraphBuilder) => g.output(g.op('Tile', [g.input('float32', x.shape), g.int64(reps)]), 'float32');
  return args.backend.runGraph('Tile', key, build, [x])[0];
}

function runConcat(args: OrtKernelArgs): tf.TensorInfo | null {
  const all = inputList(args);
  const list = all.filter((t) => sizeOf(t.shape) > 0);
  if (list.length < 2 || list.some((t) => t.dtype !== 'float32')) return null;
  const axis = tf.util.parseAxisParam(args.attrs.axis as number, list[0].shape)[0];
  const total = list.reduce((s, t) => s + sizeOf(t.shape), 0);
  if (total < thresholds.elements) return null;
  // Concat along axis 0 of contiguous inputs is a plain copy the cpu kernel does fast.
  if (thresholds.cpuViews && list[0].shape.slice(0, axis).every((d) => d === 1)) return null;
  const key = `Concat:${sigs(list)}${axis}`;
  const build = (g: GraphBuilder) => g.output(g.op('Concat', list.map((t) => g.input('float32', t.shape)), { axis: { i: axis } }), 'float32');
  return args.backend.runGraph('Concat', key, build, list)[0];
}

function runSplitV(args: OrtKernelArgs): tf.TensorInfo[] | null {
  const x = args.inputs.x;
  if (x.dtype !== 'float32' || sizeOf(x.shape) < thresholds.elements) return null;
  const axis = tf.util.parseAxisParam(args.attrs.axis as number, x.shape)[0];
  if (thresholds.cpuViews && x.shape.slice(0, axis).every((d) => d === 1)) return null; // contiguous pieces: cpu views
  const sizes = tf.backend_util.prepareSplitSize(x as tf.Tensor, args.attrs.numOrSizeSplits as number | number[], axis);
  if (sizes.some((s) => s <= 0)) return null;
  const key = `SplitV:${sig(x)}:${axis}:${sizes.join(',')}`;
  const build = (g: GraphBuilder) => {
    const outs = g.ops('Split', [g.input('float32', x.shape), g.int64(sizes)], { axis: { i: axis } }, sizes.length);
    for (const o of outs) g.output(o, 'float32');
  };
  return args.backend.runGraph('SplitV', key, build, [x]);
}

function runSlice(args: OrtKernelArgs): tf.TensorInfo | null {
  const x = args.inputs.x;
  if (x.dtype !== 'float32') return null;
  const [begin, size] = tf.slice_util.parseSliceParams(x as tf.Tensor, args.attrs.begin as number[], args.attrs.size as number[]);
  if (sizeOf(size) < thresholds.elements || (thresholds.cpuViews && tf.slice_util.isSliceContinous(x.shape, begin, size))) return null;
  const key = `Slice:${sig(x)}:${begin.join(',')}:${size.join(',')}`;
  const build = (g: GraphBuilder) => {
    const ends = begin.map((b, i) => b + size[i]);
    const axes = begin.map((_, i) => i);
    g.output(g.op('Slice', [g.input('float32', x.shape), g.int64(begin), g.int64(ends), g.int64(axes)]), 'float32', size);
  };
  return args.backend.runGraph('Slice', key, build, [x])[0];
}

/** tf.unstack: one Split along the axis, each piece squeezed. */
/** tf.stack: Unsqueeze each input at the axis, then Concat (one input: Unsqueeze alone). */
function runPack(args: OrtKernelArgs): tf.TensorInfo | null {
  const list = inputList(args);
  if (list.length === 0 || list.some((t) => t.dtype !== 'float32')) return null;
  const shape = list[0].shape;
  if (list.length * sizeOf(shape) < thresholds.elements) return null;
  const axis = tf.util.parseAxisParam(args.attrs.axis as number, [...shape, list.length])[0];
  const outShape = [...shape.slice(0, axis), list.length, ...shape.slice(axis)];
  const key = `Pack:${sigs(list)}${axis}`;
  const build = (g: GraphBuilder) => {
    const pieces = list.map((t) => g.op('Unsqueeze', [g.input('float32', t.shape), g.int64([axis])]));
    g.output(pieces.length === 1 ? pieces[0] : g.op('Concat', pieces, { axis: { i: axis } }), 'float32', outShape);
  };
  return args.backend.runGraph('Pack', key, build, list)[0];
}

function runUnpack(args: OrtKernelArgs): tf.TensorInfo[] | null {
  const x = args.inputs.value;
  if (x.dtype !== 'float32' || sizeOf(x.shape) < thresholds.elements) return null;
  const axis = tf.util.parseAxisParam(args.attrs.axis as number, x.shape)[0];
  const n = x.shape[axis];
  if (n < 1) return null;
  const key = `Unpack:${sig(x)}:${axis}`;
  const build = (g: GraphBuilder) => {
    const pieces = n === 1 ? [g.input('float32', x.shape)] : g.ops('Split', [g.input('float32', x.shape), g.int64(new Array(n).fill(1))], { axis: { i: axis } }, n);
    for (const p of pieces) g.output(g.op('Squeeze', [p, g.int64([axis])]), 'float32');
  };
  return args.backend.runGraph('Unpack', key, build, [x]);
}

function runPad(args: OrtKernelArgs): tf.TensorInfo | null {
  const x = args.inputs.x;
  const paddings = args.attrs.paddings as [number, number][];
  const value = (args.attrs.constantValue as number | undefined) ?? 0;
  if (x.dtype !== 'float32' || sizeOf(x.shape) < thresholds.elements) return null;
  const key = `PadV2:${sig(x)}:${paddings.flat().join(',')}:${value}`;
  const build = (g: GraphBuilder) => {
    const pads = [...paddings.map((p) => p[0]), ...paddings.map((p) => p[1])];
    g.output(g.op('Pad', [g.input('float32', x.shape), g.int64(pads), g.float(value)]), 'float32');
  };
  return args.backend.runGraph('PadV2', key, build, [x])[0];
}

function runSoftmax(args: OrtKernelArgs): tf.TensorInfo | null {
  const logits = args.inputs.logits;
  const rank = logits.shape.length;
  const dim = args.attrs.dim as number;
  if (logits.dtype !== 'float32' || (dim !== -1 && dim !== rank - 1) || sizeOf(logits.shape) < thresholds.elements / 4) return null;
  const key = `Softmax:${sig(logits)}`;
  const build = (g: GraphBuilder) => g.output(g.op('Softmax', [g.input('float32', logits.shape)], { axis: { i: -1 } }), 'float32');
  return args.backend.runGraph('Softmax', key, build, [logits])[0];
}

export const layoutKernels: OrtKernel[] = [
  { kernelName: 'Transpose', run: runTranspose },
  { kernelName: 'Tile', run: runTile },
  { kernelName: 'Concat', run: runConcat },
  { kernelName: 'SplitV', run: runSplitV },
  { kernelName: 'Slice', run: runSlice },
  { kernelName: 'Pack', run: runPack },
  { kernelName: 'Unpack', run: runUnpack },
  { kernelName: 'PadV2', run: runPad },
  { kernelName: 'Softmax', run: runSoftmax },
];
