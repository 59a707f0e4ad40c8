import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { activateOnnxruntime } from './activate.test-util.js';
import type { OnnxruntimeBackend } from './backend.js';
import { Rng } from '../../rng.js';
import { BenchUNet, createBenchStep, lvitLoss } from './bench-unet.js';
import { profileRecordedStep } from './index.js';
import { DeferredProgram, type KernelBuild } from './deferred.js';
import { GraphBuilder } from './onnx-graph.js';
import { DEFERRED_RUN, onnxruntimeStats, resetOnnxruntimeStats, sessionOutputBytes } from './stats.js';

/**
 * The deferred executor (deferred.ts): recorded kernels run as one graph on the first read, with
 * what tfjs does between kernels (Reshape/Cast relabels, disposal, cpu kernels) handled, and a
 * training step that gives the same numbers as the eager, kernel-by-kernel path.
 */

let backend: OnnxruntimeBackend;

beforeAll(async () => {
  backend = await activateOnnxruntime();
});

afterAll(() => backend.setDeferred(true));

function calls(prefix: string): number {
  return onnxruntimeStats()
    .filter((s) => s.kernel.startsWith(prefix))
    .reduce((a, s) => a + s.calls, 0);
}

const RUN = DEFERRED_RUN;

function ramp(n: number, scale = 1): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => ((i % 7) - 3) * scale);
}

describe('deferred execution', () => {
  it('is on by default for the cpu execution provider', () => {
    expect(backend.deferred).toBe(true);
  });

  it('records a chain of kernels and runs it once, on the first read, with relabelled shapes and dtypes', () => {
    backend.setDeferred(true);
    resetOnnxruntimeStats();
    const xs = ramp(24, 0.5);
    const x = tf.tensor(xs, [2, 3, 4]);
    const out = tf.tidy(() => {
      const positive = tf.cast(tf.greater(x, 0), 'float32'); // cpu Cast relabels bool as float32
      const y = tf.reshape(tf.mul(positive, tf.exp(x)), [6, 4]); // Reshape relabels the shape
      return tf.sum(tf.add(y, 1), 1);
    });
    expect(calls(RUN), 'nothing ran before the read').toBe(0);
    const got = out.dataSync();
    expect(calls(RUN)).toBe(1);
    for (let r = 0; r < 6; r++) {
      let want = 0;
      for (let c = 0; c < 4; c++) {
        const v = xs[r * 4 + c];
        want += (v > 0 ? Math.exp(v) : 0) + 1;
      }
      expect(got[r]).toBeCloseTo(want, 4);
    }
    tf.dispose([x, out]);
  });

  it('inputs and intermediates disposed before the read keep their arrays until the program ran', () => {
    const a = tf.tensor(ramp(8192), [8192]);
    const b = tf.tensor(ramp(8192, 2), [8192]);
    const sum = tf.add(a, b);
    const out = tf.mul(sum, 3);
    tf.dispose([a, b, sum]);
    // Arrays of the disposed tensors would be recycled by new outputs now; they must not be yet.
    const noise = tf.tidy(() => tf.add(tf.fill([8192], 7), tf.fill([8192], 9)));
    const got = out.dataSync();
    const xs = ramp(8192);
    for (let i = 0; i < 8192; i += 97) expect(got[i]).toBeCloseTo(9 * xs[i], 5);
    expect(noise.dataSync()[0]).toBe(16);
    tf.dispose([out, noise]);
  });

  it('a cpu kernel that needs a recorded value forces the flush and is named as its cause', () => {
    resetOnnxruntimeStats();
    const x = tf.tensor(ramp(64), [64]);
    const out = tf.tidy(() => tf.cumsum(tf.mul(x, 2))); // Cumsum has no ORT kernel
    expect(calls(`${RUN} before Cumsum`)).toBe(1);
    const xs = ramp(64);
    let acc = 0;
    const got = out.dataSync();
    for (let i = 0; i < 64; i++) expect(got[i]).toBeCloseTo((acc += 2 * xs[i]), 4);
    tf.dispose([x, out]);
  });

  it('a program that fails to run throws at the read, and its other outputs say why they have no value', () => {
    const x = tf.tensor(ramp(16), [16]);
    const bad = (g: GraphBuilder) => g.output(g.op('NoSuchOnnxOp', [g.input('float32', [16])]), 'float32', [16]);
    const [info] = backend.runGraph('Bad', 'deferred.test:bad', bad, [x]);
    const [info2] = backend.runGraph('Bad', 'deferred.test:bad', bad, [x]);
    const out = tf.engine().makeTensorFromTensorInfo(info);
    const out2 = tf.engine().makeTensorFromTensorInfo(info2);
    let first: unknown;
    try {
      out.dataSync();
    } catch (e) {
      first = e;
    }
    expect(String((first as Error)?.stack)).toMatch(/NoSuchOnnxOp/);
    expect(() => out2.dataSync()).toThrow(/never computed: its program failed to run \(.*NoSuchOnnxOp/);
    tf.dispose([x, out, out2]);
    // The backend keeps working after the failure.
    const y = tf.tensor([1, 2, 3]);
    expect(Array.from(tf.add(y, y).dataSync())).toEqual([2, 4, 6]);
    y.dispose();
  });

  it('leaves kernels that reach no alive value, and the feeds only they read, out of the graph', () => {
    const { program, built, record } = recorder();
    const fed = [tf.zeros([4]), tf.ones([4])];
    const a = record('a', fed[0]);
    record('deadFromA', a);
    const alive = record('aliveFromA', a);
    record('deadFromOtherFeed', fed[1]);
    const done = program.finish((id) => id === alive.dataId);
    expect(done.stages).toHaveLength(1);
    const graph = done.stages[0].graph!;
    graph.write(new GraphBuilder());
    expect(built).toEqual(['a', 'aliveFromA']);
    expect(done.concrete).toHaveLength(1);
    expect(graph.outputs.map((k) => done.computed[k - done.concrete.length].id)).toEqual([alive.dataId]);
    tf.dispose(fed);
  });

  it('cuts the program into stages at native kernels: each runs after the graphs computing its inputs', () => {
    const { program, built, record } = recorder();
    const native = () => undefined;
    const fed = tf.ones([4]);
    const onFeed = record('nativeOnFeed', fed, native); // slot 1 (slot 0: the feed)
    const a = record('a', onFeed);
    const readNative = record('nativeReadLater', a, native);
    const b = record('b', readNative);
    const fromA = record('fromA', a); // needs only a: joins a's graph
    const unread = record('nativeUnread', a, native);
    const c = record('c', b);
    const alive = [b, fromA, unread, c];
    const done = program.finish((id) => alive.some((t) => t.dataId === id));
    const ids = (slots: number[]) => slots.map((k) => (k < done.concrete.length ? 'fed' : done.computed[k - done.concrete.length].id));
    const natives = done.stages.map((s) => s.native.map((n) => n.kernel));
    expect(natives).toEqual([['nativeOnFeed'], ['nativeReadLater', 'nativeUnread']]);
    const graphs = done.stages.map((s) => s.graph!);
    for (const g of graphs) g.write(new GraphBuilder());
    expect(built, 'graph kernels, stage by stage').toEqual(['a', 'fromA', 'b', 'c']);
    // Stage 0's graph is fed the first native kernel's output and returns a (read later) and fromA (alive).
    expect(ids(graphs[0].feeds)).toEqual([onFeed.dataId]);
    expect(ids(graphs[0].outputs).sort(byN)).toEqual([a.dataId, fromA.dataId].sort(byN));
    expect(ids(done.stages[1].native[0].inputs)).toEqual([a.dataId]);
    expect(ids(graphs[1].feeds)).toEqual([readNative.dataId]);
    expect(ids(graphs[1].outputs).sort(byN)).toEqual([b.dataId, c.dataId].sort(byN));
    // a and readNative are read by nothing after stage 1: recycled there; onFeed after stage 0.
    expect(ids(done.stages[0].lastReadHere)).toEqual([onFeed.dataId]);
    expect(ids(done.stages[1].lastReadHere).sort(byN)).toEqual([a.dataId, readNative.dataId].sort(byN));
    fed.dispose();
  });

  it('a staged program runs on the backend like the eager kernels', () => {
    const x = tf.tensor2d(ramp(12, 0.5), [3, 4]);
    const run = () => {
      const y = tf.tidy(() => tf.relu(tf.sub(tf.mul(x, x), 1)));
      const out = Array.from(y.dataSync());
      y.dispose();
      return out;
    };
    const deferred = run();
    backend.setDeferred(false);
    const eager = run();
    backend.setDeferred(true);
    expect(deferred).toEqual(eager);
    x.dispose();
  });

  it('a training step records as one program, compiled once; losses and gradients match the eager path', () => {
    const run = (deferred: boolean) => {
      backend.setDeferred(deferred);
      const s = createBenchStep({ base: 4, batch: 2, res: 32, seed: 3 });
      try {
        const grads = stepGradients(s.net, 3);
        const losses = [s.step(), s.step()];
        resetOnnxruntimeStats();
        const sessions = backend.numSessions();
        losses.push(s.step(), s.step());
        return { losses, grads, newSessions: backend.numSessions() - sessions, runs: calls(RUN) };
      } finally {
        s.dispose();
      }
    };
    const eager = run(false);
    const deferred = run(true);
    expect(deferred.newSessions, 'steps 3 and 4 reuse the compiled program').toBe(0);
    expect(deferred.runs, 'one graph run per step (the loss read)').toBe(2);
    expect(eager.runs).toBe(0);
    deferred.losses.forEach((l, i) => expect(Math.abs(l - eager.losses[i])).toBeLessThan(1e-5 * Math.abs(eager.losses[i])));
    deferred.grads.forEach((g, i) => {
      const e = eager.grads[i];
      let maxAbs = 0;
      let maxDiff = 0;
      for (let j = 0; j < g.length; j++) {
        maxAbs = Math.max(maxAbs, Math.abs(e[j]));
        maxDiff = Math.max(maxDiff, Math.abs(g[j] - e[j]));
      }
      // float32 reassociation inside ORT's optimised graph only (model-grad.test.ts bounds both against the cpu backend).
      expect(maxDiff, `gradient ${i}`).toBeLessThanOrEqual(1e-4 * maxAbs + 1e-7);
    });
  });
});

describe('profileRecordedStep', () => {
  it("books a recorded step's ORT node time by the tfjs kernel that wrote each node; null when nothing is recorded", async () => {
    backend.setDeferred(true);
    const s = createBenchStep({ base: 4, batch: 2, res: 32, seed: 4 });
    try {
      s.step();
      const profile = await profileRecordedStep(() => s.step());
      expect(profile!.runs).toBeGreaterThanOrEqual(1);
      const kernels = new Map(profile!.byKernel.map((r) => [r.name, r]));
      for (const k of ['FusedConv2D', 'Conv2DBackpropFilter', 'Conv2DBackpropInput', 'MaxPoolGrad']) expect(kernels.get(k)?.ms, k).toBeGreaterThan(0);
      expect(profile!.byOp.some((r) => r.name === 'Gemm' || r.name === 'MatMul')).toBe(true);
      // The step's session outputs, as an unprofiled step of the same structure returns them.
      const before = sessionOutputBytes();
      s.step();
      const after = sessionOutputBytes();
      expect(profile!.outputMB).toBeGreaterThan(0);
      expect(profile!.outputMB).toBeCloseTo((after.returned - before.returned) / 2 ** 20, 9);
      expect(profile!.copiedMB).toBeCloseTo((after.copied - before.copied) / 2 ** 20, 9);
      backend.setDeferred(false);
      expect(await profileRecordedStep(() => s.step())).toBeNull();
    } finally {
      backend.setDeferred(true);
      s.dispose();
    }
  });
});

/**
 * A bare DeferredProgram and `record(name, input, native?)`: one [4]-float Neg kernel per call, whose
 * build notes its name in `built` when the graph is written.
 */
const byN = (p: unknown, q: unknown) => ((p as { n: number }).n ?? -1) - ((q as { n: number }).n ?? -1);

function recorder() {
  const program = new DeferredProgram();
  const built: string[] = [];
  const unary = (name: string): KernelBuild => (g) => {
    built.push(name);
    g.output(g.op('Neg', [g.input('float32', [4])]), 'float32', [4]);
  };
  const spec = { shape: [4], dtype: 'float32' as const };
  let n = 0;
  const record = (name: string, input: tf.TensorInfo, native?: () => void) =>
    program.record(name, name, unary(name), [input], [spec], () => new Float32Array(4), () => ({ dataId: { n: n++ }, shape: [4], dtype: 'float32' }), native)[0];
  return { program, built, record };
}

/** Every parameter gradient of the bench U-Net's loss on a seeded batch. */
function stepGradients(net: BenchUNet, seed: number): Float32Array[] {
  const rng = new Rng(seed);
  const x = tf.tensor4d(Float32Array.from({ length: 2 * 32 * 32 * 3 }, () => rng.next()), [2, 32, 32, 3]);
  const y = tf.tensor4d(Float32Array.from({ length: 2 * 32 * 32 }, () => (rng.next() > 0.7 ? 1 : 0)), [2, 32, 32, 1]);
  const params = net.parameters();
  const { value, grads } = tf.variableGrads(() => lvitLoss(net.forward(x, { training: true }), y), params);
  const out = params.map((p) => Float32Array.from(grads[p.name].dataSync() as Float32Array));
  tf.dispose([x, y, value, ...Object.values(grads)]);
  return out;
}
