import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadWasmBackend, unloadWasmBackend } from '../../wasm-loader.js';
import { isPatched, patchWasmForTraining } from '../index.js';
import { seededValues } from '../reference.js';
import { tileInto } from './Tile.js';

/** out[i] = x[source index], source coordinate = out coordinate mod input extent, per axis. */
function naiveTile(x: ArrayLike<number>, shape: number[], reps: number[]): number[] {
  const outShape = shape.map((d, i) => d * reps[i]);
  const size = outShape.reduce((a, b) => a * b, 1);
  const out = new Array<number>(size);
  for (let flat = 0; flat < size; flat++) {
    let rest = flat;
    let src = 0;
    let stride = 1;
    for (let axis = outShape.length - 1; axis >= 0; axis--) {
      const coord = rest % outShape[axis];
      rest = Math.floor(rest / outShape[axis]);
      src += (coord % shape[axis]) * stride;
      stride *= shape[axis];
    }
    out[flat] = x[src];
  }
  return out;
}

const CASES: [number[], number[]][] = [
  [[1, 1, 1, 16], [4, 5, 6, 1]], // BatchNorm gradient: channel vector to activation size
  [[3, 1, 2], [2, 4, 3]],
  [[7], [5]],
  [[2, 3], [1, 1]],
  [[2, 1, 3, 1, 2], [1, 3, 2, 5, 1]], // rank 5
  [[1, 40], [9, 3]], // long rows (doubling copies)
  [[5, 1], [2, 70]], // single-element rows (fill)
];

describe('wasm Tile patch', () => {
  beforeAll(async () => {
    await loadWasmBackend(1);
    patchWasmForTraining();
  });
  afterAll(() => unloadWasmBackend());

  it('is registered', () => expect(isPatched('Tile', 'wasm')).toBe(true));

  for (const [shape, reps] of CASES) {
    it(`float32 ${JSON.stringify(shape)} x ${JSON.stringify(reps)} matches the naive reference exactly`, () => {
      const values = seededValues(tf.util.sizeFromShape(shape), 41);
      const x = tf.tensor(values, shape);
      const y = tf.tile(x, reps);
      expect(y.shape).toEqual(shape.map((d, i) => d * reps[i]));
      expect(Array.from(y.dataSync())).toEqual(naiveTile(values, shape, reps));
      tf.dispose([x, y]);
    });
  }

  it('int32 and bool tensors', () => {
    const ints = tf.tensor([1, -2, 3, 4, 5, 6], [2, 3], 'int32');
    expect(Array.from(tf.tile(ints, [2, 2]).dataSync())).toEqual(naiveTile([1, -2, 3, 4, 5, 6], [2, 3], [2, 2]));
    const bools = tf.tensor([true, false, true], [3, 1], 'bool');
    expect(Array.from(tf.tile(bools, [2, 3]).dataSync())).toEqual(naiveTile([1, 0, 1], [3, 1], [2, 3]));
  });

  it('tileInto expands in place without clobbering unread rows', () => {
    const dst = new Float32Array(2 * 3 * 4);
    tileInto(new Float32Array([1, 2, 3, 4, 5, 6]), [2, 3], [1, 4], dst);
    expect(Array.from(dst)).toEqual(naiveTile([1, 2, 3, 4, 5, 6], [2, 3], [1, 4]));
  });
});
