import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { activateOnnxruntime } from './activate.test-util.js';
import type { OnnxruntimeBackend } from './backend.js';
import { Rng } from '../../rng.js';
import { nchwcBlockSize, nchwcReadsNchwInput } from './kernels/nhwc-conv.js';
import { DEFERRED_RUN, NATIVE_KERNEL, onnxruntimeStats } from './stats.js';
import { loadedConvFilter, setNativeConvFilter } from './native.js';
import { setOrtKernelThresholds } from './kernels/util.js';
import { convInfo, naiveConv2DBackpropFilter, relativeMaxError, seededValues } from '../kernels/reference.js';

type Shape4 = [number, number, number, number];

/**
 * Every ORT kernel against the cpu backend's kernel for the same kernel name, run on the same
 * tensors (the onnxruntime backend stores data exactly like the cpu backend, so the cpu kernelFunc
 * can be called on it directly as the reference). Each case also checks where the call ran: in
 * ORT, or in the cpu fallback for the cases an ORT kernel declines. The cases run eagerly (one
 * session per kernel, the size thresholds in force); each ORT case runs once more recorded by the
 * deferred executor (deferred.ts), so every kernel's graph is also checked inlined into a program.
 */

let backend: OnnxruntimeBackend;

beforeAll(async () => {
  backend = await activateOnnxruntime();
  backend.setDeferred(false);
});

afterAll(() => backend.setDeferred(true));

const rng = new Rng(42);

function rand(shape: number[], opts: { int?: boolean; positive?: boolean; ties?: boolean } = {}): tf.Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const d = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    let v = rng.next() * 2 - 1;
    if (opts.positive) v = Math.abs(v) + 0.1;
    if (opts.int) v = Math.round(v * 3);
    if (opts.ties) v = Math.max(0, Math.round(v * 2) / 2); // many exact ties, like ReLU outputs
    d[i] = v;
  }
  return tf.tensor(d, shape);
}

function ortCalls(kernel: string, fallback: boolean): number {
  return onnxruntimeStats()
    .filter((s) => s.kernel === kernel && s.fallback === fallback)
    .reduce((a, s) => a + s.calls, 0);
}

type Inputs = Record<string, tf.Tensor | undefined> | tf.Tensor[];

/** Runs `kernel` through the engine (ORT path) and the cpu kernelFunc (reference) on the same data. */
function check(kernel: string, inputs: Inputs, attrs: tf.NamedAttrMap, expectOrt: boolean, tol = 1e-5): void {
  const before = { ort: ortCalls(kernel, false), cpu: ortCalls(kernel, true) };
  const got = tf.engine().runKernel(kernel, inputs as tf.NamedTensorMap, attrs) as tf.Tensor | tf.Tensor[];
  const after = { ort: ortCalls(kernel, false), cpu: ortCalls(kernel, true) };
  expect(after.ort - before.ort, `${kernel} ran in ORT`).toBe(expectOrt ? 1 : 0);
  expect(after.cpu - before.cpu, `${kernel} fell back to cpu`).toBe(expectOrt ? 0 : 1);
  expectSameAsCpu(kernel, kernel, inputs, attrs, got, tol);
  if (!expectOrt) return;
  backend.setDeferred(true);
  try {
    const runs = ortCalls(FLUSH_ON_READ, false);
    const deferred = tf.engine().runKernel(kernel, inputs as tf.NamedTensorMap, attrs) as tf.Tensor | tf.Tensor[];
    expectSameAsCpu(kernel, `${kernel} (deferred)`, inputs, attrs, deferred, tol);
    expect(ortCalls(FLUSH_ON_READ, false) - runs, `${kernel} recorded, run on the first read`).toBe(1);
  } finally {
    backend.setDeferred(false);
  }
}

const FLUSH_ON_READ = `${DEFERRED_RUN} before (read)`;

/** `got` against the cpu kernelFunc's output on the same inputs; disposes `got`. */
function expectSameAsCpu(kernel: string, label: string, inputs: Inputs, attrs: tf.NamedAttrMap, got: tf.Tensor | tf.Tensor[], tol: number): void {
  const cpuKernel = tf.getKernel(kernel, 'cpu');
  const ref = cpuKernel.kernelFunc({ inputs: inputs as tf.NamedTensorInfoMap, attrs, backend }) as tf.TensorInfo | tf.TensorInfo[];
  const gotList = Array.isArray(got) ? got : [got];
  const refList = Array.isArray(ref) ? ref : [ref];
  expect(gotList.length).toBe(refList.length);
  gotList.forEach((g, i) => {
    const r = refList[i];
    expect(g.shape, `${label} output ${i} shape`).toEqual(r.shape);
    expect(g.dtype, `${label} output ${i} dtype`).toBe(r.dtype);
    const a = g.dataSync();
    const b = backend.readSync(r.dataId) as ArrayLike<number>;
    let maxDiff = 0;
    let maxRef = 0;
    for (let j = 0; j < b.length; j++) {
      const diff = Math.abs(Number(a[j]) - Number(b[j]));
      maxDiff = Number.isNaN(diff) ? (Number.isNaN(Number(a[j])) && Number.isNaN(Number(b[j])) ? maxDiff : Infinity) : Math.max(maxDiff, diff);
      maxRef = Math.max(maxRef, Math.abs(Number(b[j])));
    }
    expect(maxDiff, `${label} output ${i} max abs diff (ref max ${maxRef})`).toBeLessThanOrEqual(tol * maxRef);
    backend.disposeData(r.dataId);
  });
  tf.dispose(got);
}

function conv(kernel: string, x: number[], w: number[], attrs: tf.NamedAttrMap, expectOrt = true, extra: Inputs = {}) {
  const inputs = { x: rand(x), filter: rand(w), ...(extra as Record<string, tf.Tensor>) };
  check(kernel, inputs, { dataFormat: 'NHWC', dilations: 1, dimRoundingMode: undefined, ...attrs }, expectOrt, 1e-4);
  tf.dispose(Object.values(inputs));
}

describe('Conv2D / FusedConv2D', () => {
  const pads = ['same', 'valid', [[0, 0], [1, 2], [2, 1], [0, 0]]] as const;
  for (const k of [1, 2, 3, 5]) {
    for (const s of [1, 2, 3]) {
      for (const pad of pads) {
        it(`k${k} s${s} pad ${JSON.stringify(pad)}`, () => conv('Conv2D', [2, 11, 10, 5], [k, k, 5, 6], { strides: s, pad: pad as never }));
      }
    }
  }
  it('dilation 2', () => conv('Conv2D', [2, 12, 12, 4], [3, 3, 4, 5], { strides: 1, pad: 'same', dilations: 2 }));
  it('non-square stride and kernel', () => conv('Conv2D', [1, 12, 13, 3], [3, 2, 3, 4], { strides: [2, 1], pad: 'same' }));
  // Fewer input channels than the NCHWc block (an image's first conv): NCHW input to the NCHWc conv.
  it('reads a plain NCHW input into the NCHWc conv wherever the NCHWc path is on', () => {
    if (nchwcBlockSize() !== null) expect(nchwcReadsNchwInput()).toBe(true);
  });
  for (const [s, pad, activation] of [[1, 'same', 'relu'], [2, 'valid', 'linear'], [1, 'valid', 'sigmoid']] as const) {
    it(`3 input channels -> 32, s${s} ${pad} ${activation}`, () =>
      conv('FusedConv2D', [2, 13, 12, 3], [3, 3, 3, 32], { strides: s, pad, activation }, true, { bias: rand([32]) }));
  }
  it('NCHW falls back to cpu', () => conv('Conv2D', [2, 3, 8, 8], [3, 3, 3, 4], { strides: 1, pad: 'same', dataFormat: 'NCHW' }, false));
  for (const activation of ['linear', 'relu', 'relu6', 'elu', 'leakyrelu', 'sigmoid']) {
    it(`fused bias + ${activation}`, () =>
      conv('FusedConv2D', [2, 9, 9, 8], [3, 3, 8, 16], { strides: 1, pad: 'same', activation, leakyreluAlpha: 0.1 }, true, { bias: rand([16]) }));
  }
  it('fused 1x1 (MatMul path) with bias', () =>
    conv('FusedConv2D', [2, 16, 16, 16], [1, 1, 16, 1], { strides: 1, pad: 'same', activation: 'linear' }, true, { bias: rand([1]) }));
  it('fused scalar bias', () =>
    conv('FusedConv2D', [2, 9, 9, 8], [3, 3, 8, 4], { strides: 2, pad: 'valid', activation: 'relu' }, true, { bias: rand([]) }));
  it('fused prelu falls back to cpu', () =>
    conv('FusedConv2D', [1, 8, 8, 4], [3, 3, 4, 4], { strides: 1, pad: 'same', activation: 'prelu' }, false, { bias: rand([4]), preluActivationWeights: rand([4]) }));
});

/**
 * Both ways where native/conv-filter.cc is built: the ONNX formulations, and the native kernels
 * (dW, deferred after the graph; NCHWc filter layouts, deferred before it).
 */
const NATIVE_MODES = loadedConvFilter() ? ['ONNX', 'native'] : ['ONNX'];

function withNativeMode(mode: string, body: () => void): void {
  const was = setNativeConvFilter(mode === 'native');
  try {
    body();
  } finally {
    setNativeConvFilter(was);
  }
}

const nativeRuns = (kernel: string) => onnxruntimeStats().find((s) => s.kernel === `${NATIVE_KERNEL} ${kernel}`)?.calls ?? 0;
const nativeDwRuns = () => nativeRuns('Conv2DBackpropFilter');

describe.each(NATIVE_MODES)('NCHWc path (channel counts that are multiples of the MLAS block size; %s filter layout)', (mode) => {
  let was = true;
  let layouts = 0;
  beforeAll(() => {
    was = setNativeConvFilter(mode === 'native');
    layouts = nativeRuns('_OrtNchwcFilter');
  });
  afterAll(() => setNativeConvFilter(was));
  it('detects the block size (16 with AVX-512, 8 with AVX2)', () => {
    expect([16, 8, 4]).toContain(nchwcBlockSize());
  });
  const pads = ['same', 'valid', [[0, 0], [2, 1], [0, 1], [0, 0]]] as const;
  for (const s of [1, 2]) {
    for (const pad of pads) {
      it(`Conv2D 3x3 s${s} pad ${JSON.stringify(pad)}, 16 -> 32 channels`, () => conv('Conv2D', [2, 11, 10, 16], [3, 3, 16, 32], { strides: s, pad: pad as never }));
    }
  }
  it('Conv2D 5x5 dilation 2, 32 -> 16', () => conv('Conv2D', [1, 14, 14, 32], [5, 5, 32, 16], { strides: 1, pad: 'same', dilations: 2 }));
  it('FusedConv2D bias + relu (fused into the NCHWc conv)', () =>
    conv('FusedConv2D', [2, 9, 9, 16], [3, 3, 16, 16], { strides: 1, pad: 'same', activation: 'relu' }, true, { bias: rand([16]) }));
  it('FusedConv2D bias + leakyrelu', () =>
    conv('FusedConv2D', [2, 9, 9, 16], [3, 3, 16, 32], { strides: 1, pad: 'same', activation: 'leakyrelu', leakyreluAlpha: 0.1 }, true, { bias: rand([32]) }));
  for (const pad of ['same', 'valid'] as const) {
    it(`Conv2DBackpropInput 3x3 s1 ${pad}, 32 -> 16 channels`, () => {
      const xShape = [2, 10, 9, 16];
      const info = tf.backend_util.computeConv2DInfo(xShape as [number, number, number, number], [3, 3, 16, 32], 1, 1, pad);
      const dy = rand([2, info.outHeight, info.outWidth, 32]);
      const filter = rand([3, 3, 16, 32]);
      check('Conv2DBackpropInput', { dy, filter }, { inputShape: xShape, strides: 1, pad, dataFormat: 'NHWC', dimRoundingMode: undefined }, true, 1e-4);
      tf.dispose([dy, filter]);
    });
  }
  it('laid the filters out natively (before each deferred graph) where native, never otherwise', () => {
    expect(nativeRuns('_OrtNchwcFilter') - layouts > 0).toBe(mode === 'native' && nchwcBlockSize() !== null);
  });
});

describe('Conv2DBackpropInput', () => {
  const cases: [string, number[], number[], number, unknown][] = [
    // name, input (x) shape, filter shape, stride, pad
    ['3x3 s1 same (flipped conv)', [2, 10, 9, 5], [3, 3, 5, 6], 1, 'same'],
    ['5x5 s1 valid (flipped conv)', [2, 10, 9, 5], [5, 5, 5, 6], 1, 'valid'],
    ['3x3 s1 explicit', [1, 8, 8, 3], [3, 3, 3, 4], 1, [[0, 0], [0, 2], [1, 0], [0, 0]]],
    ['2x2 s2 valid (gemm, U-Net up-conv)', [2, 8, 12, 6], [2, 2, 6, 7], 2, 'valid'],
    ['3x3 s3 valid (gemm)', [1, 9, 9, 4], [3, 3, 4, 5], 3, 'valid'],
    ['1x1 s1 (gemm, no depth-to-space)', [2, 6, 7, 5], [1, 1, 5, 4], 1, 'valid'],
    ['3x3 s1 same, 32 -> 16 (flipped conv on the NCHWc path)', [2, 9, 9, 32], [3, 3, 32, 16], 1, 'same'],
    ['3x3 s1 same, 32 -> 4 (its dx conv reads a 4-channel NCHW input)', [2, 9, 9, 32], [3, 3, 32, 4], 1, 'same'],
    ['3x3 s2 same (ConvTranspose)', [2, 9, 10, 5], [3, 3, 5, 6], 2, 'same'],
    ['3x3 s2 valid odd (ConvTranspose)', [2, 9, 9, 5], [3, 3, 5, 6], 2, 'valid'],
    ['2x2 s2 valid odd input (ConvTranspose)', [1, 9, 9, 3], [2, 2, 3, 4], 2, 'valid'],
  ];
  for (const [name, xShape, wShape, s, pad] of cases) {
    it(name, () => {
      const info = tf.backend_util.computeConv2DInfo(xShape as [number, number, number, number], wShape as [number, number, number, number], s, 1, pad as 'same');
      const dy = rand([xShape[0], info.outHeight, info.outWidth, wShape[3]]);
      const filter = rand(wShape);
      check('Conv2DBackpropInput', { dy, filter }, { inputShape: xShape, strides: s, pad: pad as 'same', dataFormat: 'NHWC', dimRoundingMode: undefined }, true, 1e-4);
      tf.dispose([dy, filter]);
    });
  }
});

describe.each(NATIVE_MODES)('Conv2DBackpropFilter (%s)', (mode) => {
  const cases: [number[], number[], number, unknown][] = [
    [[2, 10, 9, 5], [3, 3, 5, 6], 1, 'same'],
    [[2, 10, 9, 5], [3, 3, 5, 6], 1, 'valid'],
    [[2, 11, 10, 5], [3, 3, 5, 6], 2, 'same'],
    [[2, 8, 8, 6], [2, 2, 6, 7], 2, 'valid'],
    [[1, 12, 12, 4], [5, 5, 4, 3], 3, 'same'],
    [[2, 8, 8, 16], [1, 1, 16, 8], 1, 'same'],
    [[1, 8, 8, 3], [3, 3, 3, 4], 1, [[0, 0], [0, 2], [1, 0], [0, 0]]],
    [[1, 256, 256, 2], [3, 3, 2, 3], 1, 'same'], // B*H*W >= 65536: reduction split into 16 batched pieces
  ];
  for (const [xShape, wShape, s, pad] of cases) {
    it(`x ${xShape} w ${wShape} s${s} ${JSON.stringify(pad)}`, () => {
      const info = tf.backend_util.computeConv2DInfo(xShape as [number, number, number, number], wShape as [number, number, number, number], s, 1, pad as 'same');
      const x = rand(xShape);
      const dy = rand([xShape[0], info.outHeight, info.outWidth, wShape[3]]);
      const native = nativeDwRuns();
      withNativeMode(mode, () => check('Conv2DBackpropFilter', { x, dy }, { strides: s, pad: pad as 'same', dataFormat: 'NHWC', dimRoundingMode: undefined, filterShape: wShape }, true, 1e-4));
      expect(nativeDwRuns() - native, 'native dW runs (deferred pass)').toBe(mode === 'native' ? 1 : 0);
      tf.dispose([x, dy]);
    });
  }
});

describe.each(NATIVE_MODES)('Conv2DBackpropFilter formulations at larger sizes (%s, against a float64 reference)', (mode) => {
  // The stock cpu kernel takes minutes at these sizes; engine/kernels/reference.ts loops in float64.
  const cases: [number[], number[], 'same' | 'valid', string][] = [
    [[1, 128, 128, 33], [3, 3, 33, 32], 'same', 'Cin*Cout 1056: 4 pieces of 4096 rows'],
    [[1, 64, 128, 65], [1, 1, 65, 64], 'same', 'Cin*Cout 4160: 2 pieces'],
    [[1, 48, 48, 12], [3, 3, 12, 6], 'same', 'fewer output channels: dy shifted over the padded grid'],
    [[2, 48, 40, 12], [3, 3, 12, 5], 'valid', 'dy shifted, no padding'],
    [[1, 130, 126, 20], [3, 3, 20, 16], 'same', 'dy shifted, 4 pieces of the padded grid'],
  ];
  for (const [xShape, wShape, pad, what] of cases) {
    it(`x ${xShape} w ${wShape} ${pad} (${what})`, () => {
      const info = convInfo(xShape as Shape4, wShape as Shape4, 1, pad);
      const xs = seededValues(xShape.reduce((a, b) => a * b), 1);
      const dys = seededValues(info.outHeight * info.outWidth * xShape[0] * wShape[3], 2);
      let got!: tf.Tensor;
      withNativeMode(mode, () => {
        got = tf.tidy(() => {
          const x = tf.tensor4d(xs, xShape as Shape4);
          const dy = tf.tensor4d(dys, [xShape[0], info.outHeight, info.outWidth, wShape[3]]);
          return tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, { strides: 1, pad, dataFormat: 'NHWC', filterShape: wShape }) as tf.Tensor;
        });
      });
      expect(relativeMaxError(got.dataSync(), naiveConv2DBackpropFilter(xs, dys, info))).toBeLessThan(1e-5);
      got.dispose();
    });
  }
});

describe('BatchMatMul / _FusedMatMul', () => {
  const cases: [number[], number[], boolean, boolean][] = [
    [[64, 48], [48, 40], false, false],
    [[48, 64], [48, 40], true, false],
    [[64, 48], [40, 48], false, true],
    [[48, 64], [40, 48], true, true],
    [[3, 40, 32], [3, 32, 24], false, false],
    [[3, 32, 40], [3, 24, 32], true, true],
    [[1, 40, 32], [4, 32, 24], false, false],
    [[2, 3, 40, 32], [2, 3, 24, 32], false, true],
  ];
  for (const [aS, bS, ta, tb] of cases) {
    it(`${aS} x ${bS} tA=${ta} tB=${tb}`, () => {
      const a = rand(aS);
      const b = rand(bS);
      check('BatchMatMul', { a, b }, { transposeA: ta, transposeB: tb }, true, 1e-4);
      tf.dispose([a, b]);
    });
  }
  it('fused bias + relu', () => {
    const [a, b, bias] = [rand([64, 48]), rand([48, 40]), rand([40])];
    check('_FusedMatMul', { a, b, bias }, { transposeA: false, transposeB: false, activation: 'relu' }, true, 1e-4);
    tf.dispose([a, b, bias]);
  });
  it('tiny products stay in cpu', () => {
    const [a, b] = [rand([4, 5]), rand([5, 3])];
    check('BatchMatMul', { a, b }, { transposeA: false, transposeB: false }, false);
    tf.dispose([a, b]);
  });
});

describe('FusedBatchNorm', () => {
  it('with offset and scale', () => {
    const ts = { x: rand([2, 16, 16, 16]), mean: rand([16]), variance: rand([16], { positive: true }), offset: rand([16]), scale: rand([16]) };
    check('FusedBatchNorm', ts, { varianceEpsilon: 1e-5 }, true, 1e-5);
    tf.dispose(Object.values(ts));
  });
  it('without offset and scale', () => {
    const ts = { x: rand([2, 16, 16, 16]), mean: rand([16]), variance: rand([16], { positive: true }) };
    check('FusedBatchNorm', ts, { varianceEpsilon: 1e-3 }, true, 1e-5);
    tf.dispose(Object.values(ts));
  });
});

describe('MaxPool / MaxPoolGrad', () => {
  const cases: [number[], number, number, unknown][] = [
    [[2, 16, 16, 8], 2, 2, 'valid'],
    [[2, 15, 15, 8], 2, 2, 'valid'],
    [[2, 15, 16, 8], 3, 2, 'same'],
    [[1, 12, 12, 4], 3, 1, 'same'],
  ];
  for (const [shape, f, s, pad] of cases) {
    it(`x ${shape} f${f} s${s} ${pad}`, () => {
      const x = rand(shape, { ties: true });
      check('MaxPool', { x }, { filterSize: f, strides: s, pad: pad as 'same', dimRoundingMode: undefined }, true);
      const y = tf.maxPool(x as tf.Tensor4D, f, s, pad as 'same');
      const dy = rand(y.shape);
      // Ties (ReLU zeros) must send the gradient to the first maximum only, like the cpu kernel.
      check('MaxPoolGrad', { dy, input: x, output: y }, { filterSize: f, strides: s, pad: pad as 'same', dimRoundingMode: undefined }, true);
      tf.dispose([x, y, dy]);
    });
  }
});

describe('elementwise', () => {
  const unary: [string, tf.NamedAttrMap, { positive?: boolean }?][] = [
    ['Abs', {}], ['Neg', {}], ['Exp', {}], ['Expm1', {}], ['Log', {}, { positive: true }], ['Log1p', {}, { positive: true }],
    ['Sqrt', {}, { positive: true }], ['Rsqrt', {}, { positive: true }], ['Reciprocal', {}, { positive: true }], ['Square', {}],
    ['Relu', {}], ['Relu6', {}], ['Elu', {}], ['Selu', {}], ['LeakyRelu', { alpha: 0.3 }], ['Sigmoid', {}], ['Tanh', {}],
    ['Softplus', {}], ['Erf', {}], ['Sin', {}], ['Cos', {}], ['Floor', {}], ['Ceil', {}], ['Round', {}], ['Sign', {}],
    ['Step', { alpha: 0 }], ['Step', { alpha: 0.25 }], ['ClipByValue', { clipValueMin: -0.3, clipValueMax: 0.4 }],
  ];
  for (const [name, attrs, opts] of unary) {
    it(`${name} ${JSON.stringify(attrs)}`, () => {
      const x = rand([4, 32, 80], opts);
      check(name, { x }, attrs, true, 1e-5);
      tf.dispose(x);
    });
  }
  it('Round halves to even, like the cpu kernel', () => {
    const x = tf.tensor(new Float32Array(10240).map((_, i) => (i % 9) - 4 + 0.5));
    check('Round', { x }, {}, true);
    x.dispose();
  });

  const binary = ['Add', 'Sub', 'Multiply', 'RealDiv', 'Maximum', 'Minimum', 'Pow', 'SquaredDifference', 'FloorDiv', 'Greater', 'GreaterEqual', 'Less', 'LessEqual', 'Equal', 'NotEqual'];
  const shapes: [number[], number[]][] = [
    [[4, 32, 80], [4, 32, 80]],
    [[4, 32, 80], [80]],
    [[4, 1, 80], [4, 32, 1]],
    [[4, 32, 80], []],
  ];
  for (const name of binary) {
    for (const [sa, sb] of shapes) {
      it(`${name} ${JSON.stringify(sa)} ${JSON.stringify(sb)}`, () => {
        const int = ['Equal', 'NotEqual', 'GreaterEqual', 'LessEqual', 'FloorDiv'].includes(name);
        const a = rand(sa, { int, positive: name === 'Pow' });
        const b = rand(sb, { int: int && name !== 'FloorDiv', positive: name === 'RealDiv' || name === 'FloorDiv' });
        check(name, { a, b }, {}, true, 1e-5);
        tf.dispose([a, b]);
      });
    }
  }
  it('Prelu', () => {
    const [x, alpha] = [rand([4, 32, 80]), rand([80])];
    check('Prelu', { x, alpha }, {}, true);
    tf.dispose([x, alpha]);
  });
  it('LogicalAnd / LogicalOr', () => {
    const [a, b] = [tf.greater(rand([4, 32, 80]), 0), tf.greater(rand([4, 32, 80]), 0)];
    check('LogicalAnd', { a, b }, {}, true);
    check('LogicalOr', { a, b }, {}, true);
    tf.dispose([a, b]);
  });
  it('Cast float32 -> bool -> float32 and float32 -> int32', () => {
    const x = rand([4, 32, 80], { int: true });
    check('Cast', { x }, { dtype: 'bool' }, true);
    check('Cast', { x: tf.add(x, 0.7) }, { dtype: 'int32' }, true);
    const b = tf.greater(x, 0);
    check('Cast', { x: b }, { dtype: 'float32' }, true);
    tf.dispose([x, b]);
  });
  it('Select (elementwise in ORT, row-wise condition in cpu)', () => {
    const [t, e] = [rand([64, 160]), rand([64, 160])];
    const c = tf.greater(rand([64, 160]), 0);
    check('Select', { condition: c, t, e }, {}, true);
    const rows = tf.greater(rand([64]), 0);
    check('Select', { condition: rows, t, e }, {}, false);
    tf.dispose([t, e, c, rows]);
  });
  it('AddN', () => {
    const ts = [rand([4, 32, 80]), rand([4, 32, 80]), rand([4, 32, 80])];
    check('AddN', ts, {}, true, 1e-6);
    tf.dispose(ts);
  });
  it('small or int32 tensors stay in cpu', () => {
    const [a, b] = [rand([8, 8]), rand([8, 8])];
    check('Add', { a, b }, {}, false);
    const [ia, ib] = [tf.cast(rand([4, 32, 80], { int: true }), 'int32'), tf.cast(rand([4, 32, 80], { int: true }), 'int32')];
    check('Add', { a: ia, b: ib }, {}, false);
    tf.dispose([a, b, ia, ib]);
  });
});

describe('reductions', () => {
  const axesCases: [number | number[], boolean][] = [[[0, 1, 2], false], [3, true], [[1, 2], false], [0, false], [[0, 1, 2, 3], false]];
  for (const name of ['Sum', 'Mean', 'Max', 'Min', 'Prod']) {
    for (const [axis, keepDims] of axesCases) {
      it(`${name} axis ${JSON.stringify(axis)} keepDims ${keepDims}`, () => {
        const x = name === 'Prod' ? tf.add(tf.mul(rand([2, 16, 16, 16]), 0.05), 1) : rand([2, 16, 16, 16]);
        const attrs = name === 'Max' ? { reductionIndices: axis, keepDims } : { axis, keepDims };
        check(name, { x }, attrs, true, 2e-5);
        x.dispose();
      });
    }
  }
  it('ArgMax / ArgMin (first extreme wins on ties)', () => {
    const x = rand([64, 160], { ties: true });
    check('ArgMax', { x }, { axis: 1 }, true);
    check('ArgMin', { x }, { axis: 0 }, true);
    x.dispose();
  });
});

describe('ResizeNearestNeighbor / grad (power-of-two factors)', () => {
  for (const [h, w, f] of [[8, 8, 2], [4, 6, 4], [16, 16, 8]] as const) {
    it(`[2,${h},${w},32] x${f}`, () => {
      const images = rand([2, h, w, 32]);
      check('ResizeNearestNeighbor', { images }, { alignCorners: false, halfPixelCenters: false, size: [h * f, w * f] }, true);
      tf.dispose(images);
    });
    it(`gradient [1,${h},${w},32] x${f} (cpu reference: batch 1)`, () => {
      const [images, dy] = [rand([1, h, w, 32]), rand([1, h * f, w * f, 32])];
      check('ResizeNearestNeighborGrad', { images, dy }, { alignCorners: false }, true);
      tf.dispose([images, dy]);
    });
  }
  it('gradient with batch 2 against a naive block sum (the tfjs cpu kernel offsets dy by the image batch stride)', () => {
    const [b, h, w, c, f] = [2, 4, 6, 32, 4];
    const images = rand([b, h, w, c]);
    const dy = rand([b, h * f, w * f, c]);
    const got = (tf.engine().runKernel('ResizeNearestNeighborGrad', { images, dy }, { alignCorners: false }) as tf.Tensor).dataSync();
    const d = dy.dataSync();
    const want = new Float32Array(b * h * w * c);
    for (let n = 0; n < b; n++)
      for (let y = 0; y < h * f; y++)
        for (let x = 0; x < w * f; x++)
          for (let k = 0; k < c; k++) want[((n * h + Math.floor(y / f)) * w + Math.floor(x / f)) * c + k] += d[((n * h * f + y) * w * f + x) * c + k];
    want.forEach((v, i) => expect(Math.abs(v - got[i])).toBeLessThan(1e-5));
    tf.dispose([images, dy]);
  });
  it('factor 3 and alignCorners fall back to cpu', () => {
    const images = rand([2, 8, 8, 16]);
    check('ResizeNearestNeighbor', { images }, { alignCorners: false, halfPixelCenters: false, size: [24, 24] }, false);
    check('ResizeNearestNeighbor', { images }, { alignCorners: true, halfPixelCenters: false, size: [16, 16] }, false);
    images.dispose();
  });
  it('ResizeBilinear in all three coordinate modes, up (x2, x3) and down', () => {
    const images = rand([2, 7, 9, 64]);
    for (const [alignCorners, halfPixelCenters] of [[true, false], [false, true], [false, false]]) {
      for (const size of [[14, 18], [21, 27], [6, 8]]) check('ResizeBilinear', { images }, { alignCorners, halfPixelCenters, size }, true);
    }
    images.dispose();
  });
  it('ResizeBilinearGrad, square (against the cpu kernel), with and without alignCorners, up x2 and x3/2 and down', () => {
    const images = rand([2, 12, 12, 32]);
    for (const alignCorners of [true, false]) {
      for (const out of [24, 18, 8]) {
        const dy = rand([2, out, out, 32]);
        check('ResizeBilinearGrad', { images, dy }, { alignCorners }, true);
        dy.dispose();
      }
    }
    images.dispose();
  });
  it('ResizeBilinearGrad off the square against a naive scatter of dy (the cpu kernel returns [B,W,H,C] there)', () => {
    const [b, h, w, c, oh, ow] = [2, 5, 7, 16, 10, 14];
    const images = rand([b, h, w, c]);
    const dy = rand([b, oh, ow, c]);
    for (const alignCorners of [true, false]) {
      const got = tf.engine().runKernel('ResizeBilinearGrad', { images, dy }, { alignCorners }) as tf.Tensor;
      expect(got.shape).toEqual([b, h, w, c]);
      const taps = (size: number, out: number, o: number): [number, number][] => {
        const pos = (o * (alignCorners ? size - 1 : size)) / (alignCorners ? out - 1 : out);
        const lo = Math.floor(pos);
        return [[lo, 1 - (pos - lo)], [Math.min(lo + 1, size - 1), pos - lo]];
      };
      const d = dy.dataSync();
      const want = new Float64Array(b * h * w * c);
      for (let n = 0; n < b; n++)
        for (let y = 0; y < oh; y++)
          for (let x = 0; x < ow; x++)
            for (const [r, wr] of taps(h, oh, y))
              for (const [q, wq] of taps(w, ow, x))
                for (let k = 0; k < c; k++) want[((n * h + r) * w + q) * c + k] += wr * wq * d[((n * oh + y) * ow + x) * c + k];
      const g = got.dataSync();
      want.forEach((v, i) => expect(Math.abs(v - g[i]), `${alignCorners} ${i}`).toBeLessThan(1e-5));
      got.dispose();
    }
    tf.dispose([images, dy]);
  });
});

describe('layout', () => {
  it('Transpose', () => {
    const x = rand([2, 16, 16, 16]);
    check('Transpose', { x }, { perm: [0, 3, 1, 2] }, true);
    x.dispose();
  });
  it('Tile', () => {
    const x = rand([1, 1, 1, 16]);
    check('Tile', { x }, { reps: [2, 32, 16, 1] }, true);
    x.dispose();
  });
  it('Concat along channels, and along batch (cpu)', () => {
    const ts = [rand([2, 16, 16, 16]), rand([2, 16, 16, 4])];
    check('Concat', ts, { axis: 3 }, true);
    check('Concat', ts.map((t) => tf.reshape(t, [-1])), { axis: 0 }, false);
    tf.dispose(ts);
  });
  it('SplitV along channels, and along batch (cpu)', () => {
    const x = rand([2, 16, 16, 24]);
    check('SplitV', { x }, { numOrSizeSplits: [16, 8], axis: 3 }, true);
    check('SplitV', { x: tf.transpose(x, [3, 0, 1, 2]) }, { numOrSizeSplits: [16, 8], axis: 0 }, false);
    x.dispose();
  });
  it('Unpack along the token axis and along batch', () => {
    const x = rand([2, 10, 32, 16]);
    check('Unpack', { value: x }, { axis: 1 }, true);
    check('Unpack', { value: x }, { axis: 0 }, true);
    x.dispose();
  });
  it('Pack (tf.stack) along a new leading, middle and last axis; one input; tiny stays in cpu', () => {
    const xs = [rand([4, 32, 48]), rand([4, 32, 48]), rand([4, 32, 48])];
    check('Pack', xs, { axis: 0 }, true);
    check('Pack', xs, { axis: 2 }, true);
    check('Pack', xs, { axis: -1 }, true);
    check('Pack', [xs[0]], { axis: 1 }, true);
    check('Pack', [rand([3]), rand([3])], { axis: 0 }, false);
    tf.dispose(xs);
  });
  it('with cpuViews off (the model exporter), contiguous Slice / SplitV / Concat run in ORT too', () => {
    const previous = setOrtKernelThresholds({ cpuViews: false });
    try {
      const x = rand([2, 32, 32, 16]);
      check('Slice', { x }, { begin: [1, 0, 0, 0], size: [1, -1, -1, -1] }, true);
      check('SplitV', { x }, { numOrSizeSplits: [1, 1], axis: 0 }, true);
      check('Concat', [x, x], { axis: 0 }, true);
      x.dispose();
    } finally {
      setOrtKernelThresholds(previous);
    }
  });
  it('Slice: strided in ORT, contiguous in cpu', () => {
    const x = rand([2, 32, 32, 16]);
    check('Slice', { x }, { begin: [0, 1, 2, 0], size: [2, 30, 28, 16] }, true);
    check('Slice', { x }, { begin: [1, 0, 0, 0], size: [1, -1, -1, -1] }, false);
    x.dispose();
  });
  it('PadV2', () => {
    const x = rand([2, 16, 16, 16]);
    check('PadV2', { x }, { paddings: [[0, 0], [1, 2], [2, 1], [0, 0]], constantValue: 0.5 }, true);
    x.dispose();
  });
  it('Softmax', () => {
    const logits = rand([8, 49, 49]);
    check('Softmax', { logits }, { dim: -1 }, true, 1e-5);
    logits.dispose();
  });
});
