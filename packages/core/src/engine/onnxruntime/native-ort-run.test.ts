import { describe, expect, it } from 'vitest';
import { skipOutsideCi } from '../../io/prerequisite.js';
import { Rng } from '../../rng.js';
import { GraphBuilder } from './onnx-graph.js';
import { loadOrtBinding, OrtSession, type OrtFeed } from './ort-binding.js';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CUSTOM_OP_DOMAIN, nativeOrtRun, nativeOrtRunStatus, setNativeOrtRun } from './native.js';

/** native/ort-run.cc (OrtSession's DirectSession) against onnxruntime-node's binding running the same graphs. */
loadOrtBinding();
const addon = nativeOrtRun();
const skip = skipOutsideCi('native-ort-run.test.ts', addon ? null : `the direct graph runner is not in use (${nativeOrtRunStatus()})`);
const opts = { executionProvider: 'cpu' as const, intraOpNumThreads: 2 };

function feed(data: OrtFeed['data'], dims: number[], type: OrtFeed['type'] = 'float32'): OrtFeed {
  return { dims, type, location: 'cpu', data };
}

/** A graph with float, int32 and bool inputs and outputs, an Identity output, and one output of an unknown shape. */
function mixedGraph(): { bytes: Uint8Array; numOutputs: number; feeds: Record<string, OrtFeed> } {
  const g = new GraphBuilder();
  const x = g.input('float32', [3, 5]);
  const k = g.input('int32', [3, 5]);
  const mask = g.input('bool', [3, 5]);
  const y = g.op('Where', [mask, g.op('Mul', [x, g.op('Cast', [k], { to: { i: 1 } })]), g.float(-1)]);
  g.output(y, 'float32');
  g.output(g.op('Add', [k, k]), 'int32');
  g.output(g.op('Greater', [x, g.float(0)]), 'bool');
  g.output(y, 'float32'); // the same value twice: an Identity node
  const [pooled, idx] = g.ops('MaxPool', [g.op('Reshape', [x, g.int64([1, 1, 3, 5])])], { kernel_shape: { ints: [1, 5] }, strides: { ints: [1, 5] } }, 2);
  g.output(g.op('MaxUnpool', [pooled, idx, g.int64([1, 1, 3, 5])], { kernel_shape: { ints: [1, 5] }, strides: { ints: [1, 5] } }), 'float32');
  const rng = new Rng(3);
  const feeds = {
    i0: feed(Float32Array.from({ length: 15 }, () => rng.next() - 0.5), [3, 5]),
    i1: feed(Int32Array.from({ length: 15 }, (_, i) => i - 7), [3, 5], 'int32'),
    i2: feed(Uint8Array.from({ length: 15 }, (_, i) => i % 3 === 0 ? 0 : 1), [3, 5], 'bool'),
  };
  return { bytes: g.toBytes(), numOutputs: g.numOutputs, feeds };
}

function runWith(direct: boolean, bytes: Uint8Array, numOutputs: number, feeds: Record<string, OrtFeed>) {
  const was = setNativeOrtRun(direct);
  try {
    const s = new OrtSession(bytes, opts, numOutputs);
    const out = s.run(feeds).map((o) => ({ dims: [...o.dims], type: o.type, data: Array.from(o.data as Float32Array) }));
    s.dispose();
    return out;
  } finally {
    setNativeOrtRun(was);
  }
}

describe.skipIf(skip)('direct graph runs (native/ort-run.cc)', () => {
  it('gives what the binding gives: float, int32 and bool tensors, an Identity output, an output ORT allocates', () => {
    const { bytes, numOutputs, feeds } = mixedGraph();
    const direct = runWith(true, bytes, numOutputs, feeds);
    expect(direct).toEqual(runWith(false, bytes, numOutputs, feeds));
    expect(direct.map((o) => o.type)).toEqual(['float32', 'int32', 'bool', 'float32', 'float32']);
    expect(direct[0].data[0]).toBe(-1); // masked out
    expect(direct[1].data).toEqual(Array.from({ length: 15 }, (_, i) => 2 * (i - 7)));
  });

  it('ORT writes the outputs into the fetched arrays and returns no copy of them', () => {
    const g = new GraphBuilder();
    g.output(g.op('Neg', [g.input('float32', [2, 3])]), 'float32');
    const handle = addon!.createSession(g.toBytes(), 1, false, null);
    expect(addon!.sessionInfo(handle)).toEqual({ inputs: ['i0'], outputs: [{ name: 'o0', type: 1, shape: [2, 3] }] });
    const target = new Float32Array(6);
    const returned = addon!.run(handle, [{ type: 1, dims: [2, 3], data: new Float32Array([1, 2, 3, 4, 5, 6]) }], [{ type: 1, dims: [2, 3], data: target }]);
    expect(returned).toEqual([]);
    expect(Array.from(target)).toEqual([-1, -2, -3, -4, -5, -6]);
    const allocated = addon!.run(handle, [{ type: 1, dims: [2, 3], data: new Float32Array(6).fill(2) }], [null]);
    expect(allocated).toHaveLength(1);
    expect(allocated[0].dims).toEqual([2, 3]);
    expect(Array.from(new Float32Array(allocated[0].data))).toEqual([-2, -2, -2, -2, -2, -2]);
    addon!.release(handle);
  });

  it('says which feed is wrong and why, and refuses a released session', () => {
    const g = new GraphBuilder();
    g.output(g.op('Neg', [g.input('float32', [2, 3])]), 'float32');
    const handle = addon!.createSession(g.toBytes(), 1, false, null);
    expect(() => addon!.run(handle, [{ type: 1, dims: [2, 3], data: new Float32Array(5) }], [null])).toThrow(/feed i0: a tensor's data has 20 bytes, its dims and type need 24/);
    expect(() => addon!.run(handle, [], [null])).toThrow(/1 feeds expected/);
    expect(() => addon!.run(handle, [{ type: 1, dims: [3, 2], data: new Float32Array(6) }], [null])).toThrow(/ort-run: run: .*(dimension|Got)/i);
    addon!.release(handle);
    expect(() => addon!.run(handle, [{ type: 1, dims: [2, 3], data: new Float32Array(6) }], [null])).toThrow(/live session/);
    expect(() => addon!.createSession(new Uint8Array([1, 2, 3]), 1, false, null)).toThrow(/ort-run: createSession: /);
  });

  it('profiles a session made with a profile prefix (ORT writes the per-node JSON)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ort-run-profile-'));
    try {
      const g = new GraphBuilder();
      g.output(g.op('Relu', [g.input('float32', [4])]), 'float32');
      const s = new OrtSession(g.toBytes(), { ...opts, profileFilePrefix: join(dir, 'p') }, 1);
      s.run({ i0: feed(new Float32Array([-1, 2, -3, 4]), [4]) });
      const file = s.endProfiling();
      s.dispose();
      expect(existsSync(file)).toBe(true);
      const events = JSON.parse(readFileSync(file, 'utf8')) as { name: string; cat: string }[];
      expect(events.some((e) => e.cat === 'Node' && e.name.includes('Relu'))).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it(`runs its custom ops (${CUSTOM_OP_DOMAIN}.BatchNormTrain) inside a graph, and names a missing attribute`, () => {
    const x = [1, 10, 2, 20, 3, 30, 6, 60]; // [4 rows, 2 channels]: channel means 3 and 30, biased variances 3.5 and 350
    const build = (attrs: Record<string, { f: number } | { i: number }>) => {
      const g = new GraphBuilder();
      const outs = g.ops('BatchNormTrain', [g.input('float32', [2, 2, 2]), g.input('float32', [2]), g.input('float32', [2])], attrs, 3, CUSTOM_OP_DOMAIN);
      g.output(g.op('Neg', [outs[0]]), 'float32', [2, 2, 2]);
      g.output(outs[1], 'float32', [2]);
      g.output(outs[2], 'float32', [2]);
      return g.toBytes();
    };
    const s = new OrtSession(build({ eps: { f: 0 }, relu: { i: 0 }, threads: { i: 1 } }), opts, 3, [[2, 2, 2], [2], [2]]);
    const [negY, mean, variance] = s.run({ i0: feed(Float32Array.from(x), [2, 2, 2]), i1: feed(Float32Array.of(1, 2), [2]), i2: feed(Float32Array.of(0, 1), [2]) });
    s.dispose();
    expect(Array.from(mean.data as Float32Array)).toEqual([3, 30]);
    expect(Array.from(variance.data as Float32Array)).toEqual([3.5, 350]);
    const want = x.map((v, i) => -(i % 2 === 0 ? (v - 3) / Math.sqrt(3.5) : (2 * (v - 30)) / Math.sqrt(350) + 1));
    Array.from(negY.data as Float32Array).forEach((v, i) => expect(v).toBeCloseTo(want[i], 5));
    expect(() => new OrtSession(build({ eps: { f: 0 }, relu: { i: 0 } }), opts, 3, [[2, 2, 2], [2], [2]]).run({ i0: feed(Float32Array.from(x), [2, 2, 2]), i1: feed(Float32Array.of(1, 2), [2]), i2: feed(Float32Array.of(0, 1), [2]) })).toThrow(/lvit\.native\.BatchNormTrain: .*threads/);
  });
});
