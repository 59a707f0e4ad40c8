import * as tf from '@tensorflow/tfjs';
import type { GraphBuilder } from '../onnx-graph.js';
import { inputList, thresholds, OrtKernel, OrtKernelArgs, sig, sizeOf } from './util.js';

/**
 * Elementwise kernels as one- or two-node ORT graphs, float32 only (int32/bool math stays in the
 * cpu backend, where it is small). Small tensors stay in the cpu backend too (see util.ts).
 * Known difference: Step (the ReLU gradient mask) maps NaN to alpha where the cpu kernel returns NaN.
 */

type UnaryBuild = (g: GraphBuilder, x: string, attrs: tf.NamedAttrMap) => string;

const UNARY: Record<string, UnaryBuild> = {
  Abs: (g, x) => g.op('Abs', [x]),
  Neg: (g, x) => g.op('Neg', [x]),
  Exp: (g, x) => g.op('Exp', [x]),
  Expm1: (g, x) => g.op('Sub', [g.op('Exp', [x]), g.float(1)]),
  Log: (g, x) => g.op('Log', [x]),
  Log1p: (g, x) => g.op('Log', [g.op('Add', [x, g.float(1)])]),
  Sqrt: (g, x) => g.op('Sqrt', [x]),
  Rsqrt: (g, x) => g.op('Reciprocal', [g.op('Sqrt', [x])]),
  Reciprocal: (g, x) => g.op('Reciprocal', [x]),
  Square: (g, x) => g.op('Mul', [x, x]),
  Relu: (g, x) => g.op('Relu', [x]),
  Relu6: (g, x) => g.op('Clip', [x, g.float(0), g.float(6)]),
  Elu: (g, x) => g.op('Elu', [x], { alpha: { f: 1 } }),
  Selu: (g, x) => g.op('Selu', [x], { alpha: { f: 1.6732632423543772 }, gamma: { f: 1.0507009873554805 } }),
  LeakyRelu: (g, x, a) => g.op('LeakyRelu', [x], { alpha: { f: a.alpha as number } }),
  Sigmoid: (g, x) => g.op('Sigmoid', [x]),
  Tanh: (g, x) => g.op('Tanh', [x]),
  Softplus: (g, x) => g.op('Softplus', [x]),
  Erf: (g, x) => g.op('Erf', [x]),
  Sin: (g, x) => g.op('Sin', [x]),
  Cos: (g, x) => g.op('Cos', [x]),
  Floor: (g, x) => g.op('Floor', [x]),
  Ceil: (g, x) => g.op('Ceil', [x]),
  Round: (g, x) => g.op('Round', [x]),
  Sign: (g, x) => g.op('Sign', [x]),
  Step: (g, x, a) => g.op('Where', [g.op('Greater', [x, g.float(0)]), g.float(1), g.float(a.alpha as number)]),
  ClipByValue: (g, x, a) => g.op('Clip', [x, g.float(a.clipValueMin as number), g.float(a.clipValueMax as number)]),
};

/** Attributes that change the graph, per unary kernel (part of the cache key). */
const UNARY_ATTRS: Record<string, string[]> = { LeakyRelu: ['alpha'], Step: ['alpha'], ClipByValue: ['clipValueMin', 'clipValueMax'] };

function runUnary(name: string, args: OrtKernelArgs): tf.TensorInfo | null {
  const x = args.inputs.x;
  if (x.dtype !== 'float32' || sizeOf(x.shape) < thresholds.elements) return null;
  const attrKey = (UNARY_ATTRS[name] ?? []).map((k) => args.attrs[k]).join(',');
  const key = `${name}:${sig(x)}:${attrKey}`;
  const build = (g: GraphBuilder) => g.output(UNARY[name](g, g.input('float32', x.shape), args.attrs), 'float32', x.shape);
  return args.backend.runGraph(name, key, build, [x])[0];
}

type BinaryBuild = (g: GraphBuilder, a: string, b: string) => string;

const BINARY: Record<string, BinaryBuild> = {
  Add: (g, a, b) => g.op('Add', [a, b]),
  Sub: (g, a, b) => g.op('Sub', [a, b]),
  Multiply: (g, a, b) => g.op('Mul', [a, b]),
  RealDiv: (g, a, b) => g.op('Div', [a, b]),
  Maximum: (g, a, b) => g.op('Max', [a, b]),
  Minimum: (g, a, b) => g.op('Min', [a, b]),
  Pow: (g, a, b) => g.op('Pow', [a, b]),
  SquaredDifference: (g, a, b) => {
    const d = g.op('Sub', [a, b]);
    return g.op('Mul', [d, d]);
  },
  FloorDiv: (g, a, b) => g.op('Cast', [g.op('Floor', [g.op('Div', [a, b])])], { to: { i: 6 } }), // int32, as tfjs
  Prelu: (g, a, b) => g.op('PRelu', [a, b]),
  Greater: (g, a, b) => g.op('Greater', [a, b]),
  GreaterEqual: (g, a, b) => g.op('GreaterOrEqual', [a, b]),
  Less: (g, a, b) => g.op('Less', [a, b]),
  LessEqual: (g, a, b) => g.op('LessOrEqual', [a, b]),
  Equal: (g, a, b) => g.op('Equal', [a, b]),
  NotEqual: (g, a, b) => g.op('Not', [g.op('Equal', [a, b])]),
};

const COMPARISONS = new Set(['Greater', 'GreaterEqual', 'Less', 'LessEqual', 'Equal', 'NotEqual']);

function runBinary(name: string, args: OrtKernelArgs): tf.TensorInfo | null {
  const [a, b] = name === 'Prelu' ? [args.inputs.x, args.inputs.alpha] : [args.inputs.a, args.inputs.b];
  if (a.dtype !== 'float32' || b.dtype !== 'float32') return null;
  const outShape = tf.backend_util.assertAndGetBroadcastShape(a.shape, b.shape);
  const broadcast = a.shape.length !== b.shape.length || a.shape.some((d, i) => d !== b.shape[i]);
  if (sizeOf(outShape) < (broadcast ? thresholds.broadcast : thresholds.elements)) return null;
  const key = `${name}:${sig(a)}:${sig(b)}`;
  const outDtype = COMPARISONS.has(name) ? 'bool' : name === 'FloorDiv' ? 'int32' : 'float32';
  const build = (g: GraphBuilder) => {
    const ia = g.input('float32', a.shape);
    const ib = g.input('float32', b.shape);
    g.output(BINARY[name](g, ia, ib), outDtype, outShape);
  };
  return args.backend.runGraph(name, key, build, [a, b])[0];
}

function runLogical(name: 'LogicalAnd' | 'LogicalOr', args: OrtKernelArgs): tf.TensorInfo | null {
  const { a, b } = args.inputs;
  if (a.dtype !== 'bool' || b.dtype !== 'bool') return null;
  const outShape = tf.backend_util.assertAndGetBroadcastShape(a.shape, b.shape);
  if (sizeOf(outShape) < thresholds.elements) return null;
  const key = `${name}:${sig(a)}:${sig(b)}`;
  const build = (g: GraphBuilder) => {
    const op = name === 'LogicalAnd' ? 'And' : 'Or';
    g.output(g.op(op, [g.input('bool', a.shape), g.input('bool', b.shape)]), 'bool', outShape);
  };
  return args.backend.runGraph(name, key, build, [a, b])[0];
}

/** Cast between float32, int32 and bool (same-dtype casts stay free in the cpu kernel). */
function runCast(args: OrtKernelArgs): tf.TensorInfo | null {
  const x = args.inputs.x;
  const dtype = args.attrs.dtype as tf.DataType;
  const ok = ['float32', 'int32', 'bool'];
  if (dtype === x.dtype || !ok.includes(dtype) || !ok.includes(x.dtype) || sizeOf(x.shape) < thresholds.elements) return null;
  const key = `Cast:${sig(x)}:${dtype}`;
  const to = { float32: 1, int32: 6, bool: 9 }[dtype as 'float32' | 'int32' | 'bool'];
  const build = (g: GraphBuilder) =>
    g.output(g.op('Cast', [g.input(x.dtype as 'float32', x.shape)], { to: { i: to } }), dtype as 'float32', x.shape);
  return args.backend.runGraph('Cast', key, build, [x])[0];
}

/**
 * Select(condition, t, e) with a condition of t's shape: `Where`. A rank-1 condition (row select)
 * stays in the cpu kernel, whose row indexing this backend keeps bug-compatible with.
 */
function runSelect(args: OrtKernelArgs): tf.TensorInfo | null {
  const { condition, t, e } = args.inputs;
  if (t.dtype !== 'float32' || e.dtype !== 'float32' || condition.dtype !== 'bool') return null;
  if (sizeOf(t.shape) < thresholds.elements || t.shape.join() !== e.shape.join()) return null;
  if (condition.shape.join() !== t.shape.join()) return null;
  const key = `Select:${sig(condition)}:${sig(t)}`;
  const build = (g: GraphBuilder) => {
    const c = g.input('bool', condition.shape);
    g.output(g.op('Where', [c, g.input('float32', t.shape), g.input('float32', e.shape)]), 'float32', t.shape);
  };
  return args.backend.runGraph('Select', key, build, [condition, t, e])[0];
}

/** AddN: ONNX `Sum`. */
function runAddN(args: OrtKernelArgs): tf.TensorInfo | null {
  const list = inputList(args);
  if (list.length < 2 || list.some((t) => t.dtype !== 'float32' || t.shape.join() !== list[0].shape.join())) return null;
  if (sizeOf(list[0].shape) < thresholds.elements) return null;
  const key = `AddN:${list.length}:${sig(list[0])}`;
  const build = (g: GraphBuilder) => g.output(g.op('Sum', list.map((t) => g.input('float32', t.shape))), 'float32', list[0].shape);
  return args.backend.runGraph('AddN', key, build, list)[0];
}

export const elementwiseKernels: OrtKernel[] = [
  ...Object.keys(UNARY).map((name) => ({ kernelName: name, run: (args: OrtKernelArgs) => runUnary(name, args) })),
  ...Object.keys(BINARY).map((name) => ({ kernelName: name, run: (args: OrtKernelArgs) => runBinary(name, args) })),
  { kernelName: 'LogicalAnd', run: (args) => runLogical('LogicalAnd', args) },
  { kernelName: 'LogicalOr', run: (args) => runLogical('LogicalOr', args) },
  { kernelName: 'Cast', run: runCast },
  { kernelName: 'Select', run: runSelect },
  { kernelName: 'AddN', run: runAddN },
];
