/** Kernel GFLOPS of the bench (bench.ts): conv2d 3x3 and its two gradients, the 2x2/s2 up-conv and matMuls. */
import * as tf from '@tensorflow/tfjs';
import { ContentionMeter, sampleMemory, type Contention } from './contention.js';
import type { BackendLabel, Options } from './options.js';
import { summarize, type Stats } from './stats.js';

/**
 * Backends whose kernels finish before the op call returns; others are synced by reading a value.
 * Not onnxruntime: it records kernels until a value is read (deferred execution), so an unread,
 * disposed result never runs at all.
 */
export const SYNC_BACKENDS = new Set(['wasm', 'cpu', 'tensorflow']);

export interface OpResult {
  op: string;
  shape: string;
  flops: number;
  stats: Stats;
  gflops: number;
  contention: Contention;
}

export async function settle(out: tf.Tensor | tf.Tensor[]): Promise<void> {
  if (SYNC_BACKENDS.has(tf.getBackend())) return;
  const first = Array.isArray(out) ? out[0] : out;
  await first.data(); // async backends (webgpu): wait for the queue; onnxruntime: run the recorded graph
}

/** Runs `op` warmups + reps times; each result is disposed; returns the timed samples. */
export async function timeOp(op: () => tf.Tensor | tf.Tensor[], reps: number, warmups: number): Promise<{ stats: Stats; contention: Contention }> {
  const samples: number[] = [];
  const meter = new ContentionMeter();
  for (let i = 0; i < warmups + reps; i++) {
    meter.startRep();
    const t0 = performance.now();
    const out = op();
    await settle(out);
    const dt = performance.now() - t0;
    meter.endRep(i >= warmups);
    tf.dispose(out);
    if (i >= warmups) samples.push(dt);
  }
  sampleMemory();
  return { stats: summarize(samples), contention: meter.finish() };
}

export interface OpCase {
  op: string;
  shape: string;
  flops: number;
  inputs: () => tf.Tensor[];
  run: (inputs: tf.Tensor[]) => tf.Tensor;
}

export function conv3x3Cases(n: number, hw: number, c: number): OpCase[] {
  const xShape: [number, number, number, number] = [n, hw, hw, c];
  const wShape: [number, number, number, number] = [3, 3, c, c];
  const flops = 2 * n * hw * hw * 9 * c * c;
  const shape = `[${n},${hw},${hw},${c}]->${c}`;
  const attrs = { strides: 1, pad: 'same', dataFormat: 'NHWC', dimRoundingMode: undefined };
  return [
    { op: 'conv2d 3x3 fwd', shape, flops, inputs: () => [tf.randomUniform(xShape, -1, 1, 'float32', 1), tf.randomUniform(wShape, -1, 1, 'float32', 2)], run: ([x, w]) => tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, 1, 'same') },
    {
      op: 'backprop filter',
      shape,
      flops,
      inputs: () => [tf.randomUniform(xShape, -1, 1, 'float32', 3), tf.randomUniform(xShape, -1, 1, 'float32', 4)],
      run: ([x, dy]) => tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, { ...attrs, filterShape: wShape } as unknown as tf.NamedAttrMap) as tf.Tensor,
    },
    {
      op: 'backprop input',
      shape,
      flops,
      inputs: () => [tf.randomUniform(xShape, -1, 1, 'float32', 5), tf.randomUniform(wShape, -1, 1, 'float32', 6)],
      run: ([dy, filter]) => tf.engine().runKernel('Conv2DBackpropInput', { dy, filter }, { ...attrs, inputShape: xShape } as unknown as tf.NamedAttrMap) as tf.Tensor,
    },
  ];
}

export function upConvCase(n: number, hw: number, cin: number, cout: number): OpCase {
  return {
    op: 'up-conv 2x2/s2 fwd',
    shape: `[${n},${hw},${hw},${cin}]->[${2 * hw}²,${cout}]`,
    flops: 2 * n * hw * hw * 4 * cin * cout,
    inputs: () => [tf.randomUniform([n, hw, hw, cin], -1, 1, 'float32', 7), tf.randomUniform([2, 2, cout, cin], -1, 1, 'float32', 8)],
    run: ([x, w]) => tf.conv2dTranspose(x as tf.Tensor4D, w as tf.Tensor4D, [n, 2 * hw, 2 * hw, cout], 2, 'valid'),
  };
}

export function matMulCases(size: number, batched: [number, number]): OpCase[] {
  const square = (seed: number) => () => [tf.randomUniform([size, size], -1, 1, 'float32', seed), tf.randomUniform([size, size], -1, 1, 'float32', seed + 1)];
  const flops = 2 * size ** 3;
  const [b, m] = batched;
  return [
    { op: 'matMul', shape: `${size}³`, flops, inputs: square(10), run: ([a, c]) => tf.matMul(a, c) },
    { op: 'matMul transposeA', shape: `${size}³`, flops, inputs: square(12), run: ([a, c]) => tf.matMul(a, c, true, false) },
    { op: 'matMul transposeB', shape: `${size}³`, flops, inputs: square(14), run: ([a, c]) => tf.matMul(a, c, false, true) },
    {
      op: 'matMul batched',
      shape: `[${b},${m},${m}]²`,
      flops: 2 * b * m ** 3,
      inputs: () => [tf.randomUniform([b, m, m], -1, 1, 'float32', 16), tf.randomUniform([b, m, m], -1, 1, 'float32', 17)],
      run: ([a, c]) => tf.matMul(a, c),
    },
    {
      op: 'matMul attention',
      shape: '[48,196,64]x[48,196,64]ᵀ',
      flops: 2 * 48 * 196 * 196 * 64,
      inputs: () => [tf.randomUniform([48, 196, 64], -1, 1, 'float32', 18), tf.randomUniform([48, 196, 64], -1, 1, 'float32', 19)],
      run: ([q, k]) => tf.matMul(q, k, false, true),
    },
  ];
}

export function opCasesFor(label: BackendLabel): OpCase[] {
  if (label === 'cpu') return [...conv3x3Cases(1, 56, 32), ...matMulCases(256, [4, 128]).slice(0, 3)];
  return [...conv3x3Cases(8, 112, 32), ...conv3x3Cases(8, 56, 64), upConvCase(8, 56, 64, 32), ...matMulCases(1024, [8, 256])];
}

export async function runOps(label: BackendLabel, opts: Options): Promise<OpResult[]> {
  const reps = label === 'cpu' ? Math.min(opts.reps, 3) : opts.quick ? Math.min(opts.reps, 3) : opts.reps;
  const warmups = label === 'cpu' ? 1 : 2;
  const results: OpResult[] = [];
  for (const c of opCasesFor(label)) {
    const inputs = c.inputs();
    const { stats, contention } = await timeOp(() => c.run(inputs), reps, warmups);
    tf.dispose(inputs);
    results.push({ op: c.op, shape: c.shape, flops: c.flops, stats, gflops: c.flops / (stats.medianMs * 1e6), contention });
  }
  return results;
}
