import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadWasmBackend, unloadWasmBackend } from '../../wasm-loader.js';
import { isPatched, patchWasmForTraining } from '../index.js';
import { seededValues } from '../reference.js';

/** Piece i of x split along `axis` at `sizes`, by coordinates. */
function naiveSplit(values: Float32Array, shape: number[], axis: number, sizes: number[]): number[][] {
  const outer = shape.slice(0, axis).reduce((a, b) => a * b, 1);
  const inner = shape.slice(axis + 1).reduce((a, b) => a * b, 1);
  let start = 0;
  return sizes.map((size) => {
    const piece: number[] = [];
    for (let r = 0; r < outer; r++)
      for (let k = start; k < start + size; k++) for (let i = 0; i < inner; i++) piece.push(values[(r * shape[axis] + k) * inner + i]);
    start += size;
    return piece;
  });
}

const CASES: { shape: number[]; split: number | number[]; axis: number; sizes: number[] }[] = [
  { shape: [2, 5, 4, 6], split: 2, axis: 3, sizes: [3, 3] }, // gradient of a channel concat
  { shape: [2, 5, 4, 6], split: [1, 3, 2], axis: -1, sizes: [1, 3, 2] },
  { shape: [2, 5, 4, 6], split: [2, -1], axis: 1, sizes: [2, 3] },
  { shape: [6, 4], split: 3, axis: 0, sizes: [2, 2, 2] },
];

describe('wasm SplitV patch', () => {
  beforeAll(async () => {
    await loadWasmBackend(1);
    patchWasmForTraining();
  });
  afterAll(() => unloadWasmBackend());

  it('is registered', () => expect(isPatched('SplitV', 'wasm')).toBe(true));

  for (const c of CASES) {
    it(`${JSON.stringify(c.shape)} split ${JSON.stringify(c.split)} axis ${c.axis}`, () => {
      const values = seededValues(tf.util.sizeFromShape(c.shape), 95);
      const x = tf.tensor(values, c.shape);
      const pieces = tf.split(x, c.split, c.axis);
      const axis = c.axis < 0 ? c.shape.length + c.axis : c.axis;
      const expected = naiveSplit(values, c.shape, axis, c.sizes);
      expect(pieces.map((p) => p.shape)).toEqual(c.sizes.map((s) => c.shape.map((d, i) => (i === axis ? s : d))));
      pieces.forEach((p, i) => expect(Array.from(p.dataSync())).toEqual(expected[i]));
      tf.dispose([x, ...pieces]);
    });
  }

  it('is the gradient of a channel concat', () => {
    const a = tf.tensor4d(seededValues(2 * 3 * 3 * 2, 96), [2, 3, 3, 2]);
    const b = tf.tensor4d(seededValues(2 * 3 * 3 * 3, 97), [2, 3, 3, 3]);
    const w = tf.tensor4d(seededValues(2 * 3 * 3 * 5, 98), [2, 3, 3, 5]);
    const [da, db] = tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.mul(tf.concat([x, y], 3), w).sum())([a, b]);
    const [wa, wb] = tf.split(w, [2, 3], 3);
    expect(Array.from(da.dataSync())).toEqual(Array.from(wa.dataSync()));
    expect(Array.from(db.dataSync())).toEqual(Array.from(wb.dataSync()));
  });
});
