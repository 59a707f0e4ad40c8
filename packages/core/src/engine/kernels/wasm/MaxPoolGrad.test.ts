import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadWasmBackend, unloadWasmBackend } from '../../wasm-loader.js';
import { isPatched, patchWasmForTraining } from '../index.js';
import { relativeMaxError, seededValues } from '../reference.js';
import { silenceCpuBanner } from '../../self-test.js';

interface PoolCase {
  shape: [number, number, number, number];
  filter: number;
  stride: number;
  pad: 'same' | 'valid';
  /** Quantise inputs so windows contain ties (ReLU zeros, equal values): first maximum wins. */
  ties: boolean;
}

const CASES: PoolCase[] = [];
for (const filter of [2, 3])
  for (const stride of [1, 2, 3])
    for (const pad of ['same', 'valid'] as const)
      for (const ties of [false, true]) CASES.push({ shape: [2, 7, 6, 3], filter, stride, pad, ties });

function inputValues(c: PoolCase): Float32Array {
  const v = seededValues(tf.util.sizeFromShape(c.shape), 61);
  return c.ties ? v.map((x) => Math.max(0, Math.round(x * 2))) : v;
}

/** dx of sum(maxPool(x) * w) for a fixed random w, on the active backend. */
function poolGradient(c: PoolCase): Float32Array {
  return tf.tidy(() => {
    const x = tf.tensor4d(inputValues(c), c.shape);
    const y0 = tf.maxPool(x, c.filter, c.stride, c.pad);
    const w = tf.tensor(seededValues(y0.size, 62), y0.shape);
    return tf.grad((z: tf.Tensor) => tf.mul(tf.maxPool(z as tf.Tensor4D, c.filter, c.stride, c.pad), w).sum())(x).dataSync() as Float32Array;
  });
}

describe('wasm MaxPoolGrad patch', () => {
  const expected = new Map<PoolCase, Float32Array>();

  beforeAll(async () => {
    await tf.setBackend('cpu');
    silenceCpuBanner();
    for (const c of CASES) expected.set(c, poolGradient(c));
    await loadWasmBackend(1);
    patchWasmForTraining();
  });
  afterAll(() => unloadWasmBackend());

  it('is registered', () => expect(isPatched('MaxPoolGrad', 'wasm')).toBe(true));

  it('non-finite windows behave as on cpu (NaN never wins; an all -Infinity window passes nothing)', async () => {
    const inf = Number.NEGATIVE_INFINITY;
    // Three 2x2 windows: {NaN,1,-inf,-inf} -> the 1; {2,NaN,-inf,-inf} -> the 2; all -inf.
    const values = [Number.NaN, 1, 2, Number.NaN, inf, inf, inf, inf, inf, inf, inf, inf];
    const grad = () =>
      tf.tidy(() => {
        const x = tf.tensor4d(values, [1, 2, 6, 1]);
        return Array.from(tf.grad((z: tf.Tensor) => tf.maxPool(z as tf.Tensor4D, 2, 2, 'valid').sum())(x).dataSync());
      });
    const wasm = grad();
    await tf.setBackend('cpu');
    const cpu = grad();
    await tf.setBackend('wasm');
    expect(wasm).toEqual(cpu);
    expect(wasm.slice(0, 4)).toEqual([0, 1, 1, 0]);
  });

  for (const c of CASES) {
    it(`equals the cpu backend: filter ${c.filter} stride ${c.stride} ${c.pad}${c.ties ? ' with ties' : ''}`, () => {
      expect(relativeMaxError(poolGradient(c), expected.get(c)!)).toBeLessThan(1e-6);
    });
  }
});
