import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadWasmBackend, unloadWasmBackend } from '../../wasm-loader.js';
import { isPatched, patchWasmForTraining } from '../index.js';
import { relativeMaxError, seededValues } from '../reference.js';
import { leadingReduction } from './Sum.js';

/** Sum or mean of x [shape] over `axes`, in float64, with keepDims-free output order. */
function naiveReduce(x: Float32Array, shape: number[], axes: number[], mean: boolean): number[] {
  const keep = shape.map((_, i) => !axes.includes(i));
  const outShape = shape.filter((_, i) => keep[i]);
  const out = new Array<number>(outShape.reduce((a, b) => a * b, 1)).fill(0);
  const count = axes.reduce((p, a) => p * shape[a], 1);
  for (let flat = 0; flat < x.length; flat++) {
    let rest = flat;
    let o = 0;
    let stride = 1;
    for (let a = shape.length - 1; a >= 0; a--) {
      const coord = rest % shape[a];
      rest = Math.floor(rest / shape[a]);
      if (keep[a]) {
        o += coord * stride;
        stride *= shape[a];
      }
    }
    out[o] += x[flat];
  }
  return mean ? out.map((v) => v / count) : out;
}

const CASES: [number[], number[]][] = [
  [[4, 6, 5, 3], [0, 1, 2]], // bias / BatchNorm gradient: leading axes (patched path)
  [[4, 6, 5, 3], [0]],
  [[4, 6, 5, 3], [1, 0]],
  [[7, 9], [0]],
  [[4, 6, 5, 3], [3]], // innermost: stock path
  [[4, 6, 5, 3], [0, 2]], // not a prefix: stock path
  [[4, 6, 5, 3], [0, 1, 2, 3]], // everything: stock path
];

describe('wasm Sum and Mean patches (leading axes)', () => {
  beforeAll(async () => {
    await loadWasmBackend(1);
    patchWasmForTraining();
  });
  afterAll(() => unloadWasmBackend());

  it('are registered', () => {
    expect(isPatched('Sum', 'wasm')).toBe(true);
    expect(isPatched('Mean', 'wasm')).toBe(true);
  });

  it('recognises leading-axes reductions only', () => {
    expect(leadingReduction([4, 6, 5, 3], [0, 1, 2])).toEqual({ a: 24, b: 5, cols: 3 });
    expect(leadingReduction([4, 6, 5, 3], [2, 1, 0])).toEqual({ a: 24, b: 5, cols: 3 });
    expect(leadingReduction([4, 6, 5, 3], [0])).toEqual({ a: 4, b: 1, cols: 90 });
    expect(leadingReduction([4, 6, 5, 3], [1, 2])).toBeNull();
    expect(leadingReduction([4, 6, 5, 3], [0, 1, 2, 3])).toBeNull();
  });

  for (const [shape, axes] of CASES)
    for (const keepDims of [false, true])
      for (const mean of [false, true]) {
        it(`${mean ? 'mean' : 'sum'} ${JSON.stringify(shape)} over ${JSON.stringify(axes)}${keepDims ? ' keepDims' : ''}`, () => {
          const values = seededValues(tf.util.sizeFromShape(shape), 81);
          const x = tf.tensor(values, shape);
          const y = mean ? tf.mean(x, axes, keepDims) : tf.sum(x, axes, keepDims);
          const expectedShape = keepDims ? shape.map((d, i) => (axes.includes(i) ? 1 : d)) : shape.filter((_, i) => !axes.includes(i));
          expect(y.shape).toEqual(expectedShape);
          expect(relativeMaxError(y.dataSync(), naiveReduce(values, shape, axes, mean))).toBeLessThan(2e-6);
          tf.dispose([x, y]);
        });
      }

  it('stays accurate over a large reduction (float32 accumulation)', () => {
    const shape = [4, 128, 128, 4];
    const values = seededValues(tf.util.sizeFromShape(shape), 82).map((v) => v + 0.5);
    const x = tf.tensor(values, shape);
    expect(relativeMaxError(tf.sum(x, [0, 1, 2]).dataSync(), naiveReduce(values, shape, [0, 1, 2], false))).toBeLessThan(1e-5);
    x.dispose();
  });

  it('int32 keeps the stock kernel and stays exact', () => {
    const x = tf.tensor([[1, 2], [3, 4]], [2, 2], 'int32');
    expect(Array.from(tf.sum(x, 0).dataSync())).toEqual([4, 6]);
    x.dispose();
  });
});
