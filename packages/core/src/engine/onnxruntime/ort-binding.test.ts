import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { GraphBuilder } from './onnx-graph.js';
import { listOrtBackends, loadOrtBinding, OrtSession } from './ort-binding.js';
import { skipOutsideCi } from '../../io/prerequisite.js';
import { nativeOrtRun, nativeOrtRunStatus, setNativeOrtRun } from './native.js';
import { sessionOutputBytes } from './stats.js';

/**
 * The backend depends on onnxruntime-node's *internal* synchronous binding (ENGINE.md §11). These
 * tests fail loudly if that entry point or its behaviour changes (e.g. after an upgrade from 1.30.0).
 */

const require = createRequire(import.meta.url);
const opts = { executionProvider: 'cpu' as const, intraOpNumThreads: 1 };

describe('onnxruntime-node internal binding', () => {
  it('is the pinned version, 1.30.0', () => {
    expect((require('onnxruntime-node/package.json') as { version: string }).version).toBe('1.30.0');
  });

  it("exports initOrt() and binding.{InferenceSession, listSupportedBackends} from 'onnxruntime-node/dist/binding'", () => {
    const mod = require('onnxruntime-node/dist/binding') as { initOrt: unknown; binding: Record<string, unknown> };
    expect(typeof mod.initOrt).toBe('function');
    expect(typeof mod.binding.InferenceSession).toBe('function');
    expect(typeof mod.binding.listSupportedBackends).toBe('function');
    const proto = (mod.binding.InferenceSession as { prototype: Record<string, unknown> }).prototype;
    for (const m of ['loadModel', 'run', 'dispose']) expect(typeof proto[m], `InferenceSession.prototype.${m}`).toBe('function');
    expect(() => loadOrtBinding()).not.toThrow();
    expect(listOrtBackends()).toContain('cpu');
  });

  it('loadModel(buffer, offset, length, options) then run(feeds, fetches, {}) is synchronous and exposes static output shapes', () => {
    const g = new GraphBuilder();
    const a = g.input('float32', [2, 3]);
    const b = g.input('float32', [3]);
    g.output(g.op('Add', [a, b]), 'float32');
    const bytes = g.toBytes();
    const { binding } = require('onnxruntime-node/dist/binding') as { binding: { InferenceSession: new () => any } };
    const s = new binding.InferenceSession();
    s.loadModel(bytes.buffer, bytes.byteOffset, bytes.byteLength, { executionProviders: [{ name: 'cpu' }], intraOpNumThreads: 1 });
    expect(s.outputMetadata[0]).toMatchObject({ name: 'o0', type: 1, shape: [2, 3] });
    const feed = (data: Float32Array, dims: number[]) => ({ dims, type: 'float32', location: 'cpu', data });
    const out = s.run({ i0: feed(new Float32Array([1, 2, 3, 4, 5, 6]), [2, 3]), i1: feed(new Float32Array([10, 20, 30]), [3]) }, { o0: null }, {});
    expect(out).not.toBeInstanceOf(Promise);
    expect(Array.from(out.o0.data as Float32Array)).toEqual([11, 22, 33, 14, 25, 36]);
    // Preallocated fetch: ORT writes into our array in place.
    const target = new Float32Array(6);
    s.run({ i0: feed(new Float32Array(6).fill(1), [2, 3]), i1: feed(new Float32Array(3).fill(2), [3]) }, { o0: feed(target, [2, 3]) }, {});
    expect(Array.from(target)).toEqual([3, 3, 3, 3, 3, 3]);
    // ...and returns a copy of it, not the array itself (the cost `sessionOutputBytes` counts).
    const again = s.run({ i0: feed(new Float32Array(6), [2, 3]), i1: feed(new Float32Array(3), [3]) }, { o0: feed(target, [2, 3]) }, {});
    expect(again.o0.data).not.toBe(target);
    expect(again.o0.data.buffer).not.toBe(target.buffer);
    s.dispose();
  });
});

describe('sessionOutputBytes', () => {
  const outputsOfOneRun = (direct: boolean) => {
    const was = setNativeOrtRun(direct);
    const g = new GraphBuilder();
    const x = g.input('float32', [2, 3]);
    g.output(g.op('Neg', [x]), 'float32');
    g.output(g.op('ReduceSum', [x], { keepdims: { i: 0 } }), 'float32', []);
    const s = new OrtSession(g.toBytes(), opts, g.numOutputs, [undefined, []]);
    setNativeOrtRun(was);
    const before = sessionOutputBytes();
    s.run({ i0: { dims: [2, 3], type: 'float32', location: 'cpu', data: new Float32Array(6) } });
    const after = sessionOutputBytes();
    s.dispose();
    return { returned: after.returned - before.returned, copied: after.copied - before.copied };
  };

  it("counts the bytes of every output a session returns, all of them copied through onnxruntime-node's binding", () => {
    expect(outputsOfOneRun(false)).toEqual({ returned: 4 * (6 + 1), copied: 4 * (6 + 1) });
  });

  const noRunner = skipOutsideCi('ort-binding.test.ts', nativeOrtRun() ? null : `the direct graph runner is not in use (${nativeOrtRunStatus()})`);
  it.skipIf(noRunner)('counts none of the preallocated outputs as copied where the direct runner runs the session', () => {
    expect(outputsOfOneRun(true)).toEqual({ returned: 4 * (6 + 1), copied: 0 });
  });
});

describe('OrtSession and GraphBuilder', () => {
  it('runs a multi-output graph with int64 constants and renamed outputs', () => {
    const g = new GraphBuilder();
    const x = g.input('float32', [2, 6]);
    const [p, q] = g.ops('Split', [x, g.int64([2, 4])], { axis: { i: 1 } }, 2);
    g.output(q, 'float32');
    g.output(g.op('Reshape', [p, g.int64([4])]), 'float32');
    g.output(q, 'float32'); // the same value twice: an Identity node
    const s = new OrtSession(g.toBytes(), opts, g.numOutputs);
    const data = new Float32Array([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    const [o0, o1, o2] = s.run({ i0: { dims: [2, 6], type: 'float32', location: 'cpu', data } });
    expect(o0.dims).toEqual([2, 4]);
    expect(Array.from(o0.data as Float32Array)).toEqual([2, 3, 4, 5, 8, 9, 10, 11]);
    expect(Array.from(o1.data as Float32Array)).toEqual([0, 1, 6, 7]);
    expect(Array.from(o2.data as Float32Array)).toEqual(Array.from(o0.data as Float32Array));
    s.dispose();
  });

  it('an output whose shape ORT cannot infer (reported like a scalar) is fetched unallocated, not as a scalar', () => {
    const g = new GraphBuilder();
    const x = g.input('float32', [1, 1, 2, 2]);
    const [y, idx] = g.ops('MaxPool', [x], { kernel_shape: { ints: [2, 2] }, strides: { ints: [2, 2] } }, 2);
    g.output(g.op('MaxUnpool', [y, idx, g.int64([1, 1, 2, 2])], { kernel_shape: { ints: [2, 2] }, strides: { ints: [2, 2] } }), 'float32');
    const s = new OrtSession(g.toBytes(), opts, 1);
    const [o] = s.run({ i0: { dims: [1, 1, 2, 2], type: 'float32', location: 'cpu', data: new Float32Array([1, 5, 3, 2]) } });
    expect(Array.from(o.dims)).toEqual([1, 1, 2, 2]);
    expect(Array.from(o.data as Float32Array)).toEqual([0, 5, 0, 0]);
    s.dispose();
  });

  it('bool outputs come back as Uint8Array, like the cpu backend stores them', () => {
    const g = new GraphBuilder();
    g.output(g.op('Greater', [g.input('float32', [4]), g.float(0)]), 'bool');
    const s = new OrtSession(g.toBytes(), opts, 1);
    const [o] = s.run({ i0: { dims: [4], type: 'float32', location: 'cpu', data: new Float32Array([-1, 2, 0, 3]) } });
    expect(o.data).toBeInstanceOf(Uint8Array);
    expect(Array.from(o.data as Uint8Array)).toEqual([0, 1, 0, 1]);
    s.dispose();
  });
});
