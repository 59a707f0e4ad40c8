import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadWasmBackend, unloadWasmBackend } from '../../wasm-loader.js';
import { isPatched, patchWasmForTraining } from '../index.js';
import { seededValues } from '../reference.js';
import { LONG_ROW } from './Concat.js';

/** Concatenation by coordinates: out[outer, inner...] taken from the input that owns the axis index. */
function naiveConcat(parts: { values: ArrayLike<number>; shape: number[] }[], axis: number): number[] {
  const outer = parts[0].shape.slice(0, axis).reduce((a, b) => a * b, 1);
  const out: number[] = [];
  for (let r = 0; r < outer; r++)
    for (const p of parts) {
      const inner = p.shape.slice(axis).reduce((a, b) => a * b, 1);
      for (let i = 0; i < inner; i++) out.push(p.values[r * inner + i]);
    }
  return out;
}

const CASES: { shapes: number[][]; axis: number }[] = [
  { shapes: [[2, 5, 4, 3], [2, 5, 4, 6]], axis: 3 }, // channel concat (U-Net skips)
  { shapes: [[2, 5, 4, 3], [2, 5, 4, 1], [2, 5, 4, 2]], axis: -1 },
  { shapes: [[2, 3, 4], [2, 5, 4]], axis: 1 },
  { shapes: [[3, 2], [1, 2]], axis: 0 },
  { shapes: [[2, LONG_ROW + 5], [2, 3]], axis: 1 }, // long rows copied with set()
];

describe('wasm Concat patch', () => {
  beforeAll(async () => {
    await loadWasmBackend(1);
    patchWasmForTraining();
  });
  afterAll(() => unloadWasmBackend());

  it('is registered', () => expect(isPatched('Concat', 'wasm')).toBe(true));

  for (const { shapes, axis } of CASES) {
    it(`${JSON.stringify(shapes)} axis ${axis} equals the naive concatenation`, () => {
      const parts = shapes.map((shape, i) => ({ shape, values: seededValues(tf.util.sizeFromShape(shape), 90 + i) }));
      const tensors = parts.map((p) => tf.tensor(p.values, p.shape));
      const y = tf.concat(tensors, axis);
      const $axis = axis < 0 ? shapes[0].length + axis : axis;
      expect(y.shape).toEqual(shapes[0].map((d, i) => (i === $axis ? shapes.reduce((s, sh) => s + sh[i], 0) : d)));
      expect(Array.from(y.dataSync())).toEqual(naiveConcat(parts, $axis));
      tf.dispose([...tensors, y]);
    });
  }

  it('int32 and bool, and an empty input is skipped', () => {
    const a = tf.tensor([[1, 2], [3, 4]], [2, 2], 'int32');
    const b = tf.tensor([[5], [6]], [2, 1], 'int32');
    const empty = tf.tensor([], [2, 0], 'int32');
    expect(Array.from(tf.concat([a, empty, b], 1).dataSync())).toEqual([1, 2, 5, 3, 4, 6]);
    const t = tf.tensor([true, false], [2, 1], 'bool');
    expect(Array.from(tf.concat([t, t], 1).dataSync())).toEqual([1, 1, 0, 0]);
  });
});
