import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadWasmBackend, unloadWasmBackend } from '../../wasm-loader.js';
import { isPatched, patchWasmForTraining } from '../index.js';
import { naiveBatchMatMul, relativeMaxError, seededValues } from '../reference.js';
import { SPLIT_BATCH_MIN_MACS } from './BatchMatMul.js';

const TOLERANCE = 2e-5;

interface MatMulCase {
  a: number[];
  b: number[];
  tA: boolean;
  tB: boolean;
  /** Expected output shape. */
  out?: number[];
}

function cases(): MatMulCase[] {
  const out: MatMulCase[] = [];
  for (const tA of [false, true])
    for (const tB of [false, true]) {
      const a2 = tA ? [7, 5] : [5, 7];
      const b2 = tB ? [6, 7] : [7, 6];
      out.push({ a: a2, b: b2, tA, tB, out: [5, 6] }); // plain 2-D
      out.push({ a: [3, ...a2], b: [3, ...b2], tA, tB, out: [3, 5, 6] }); // batched
      out.push({ a: [3, ...a2], b: b2, tA, tB, out: [3, 5, 6] }); // shared right operand (folded into rows)
      out.push({ a: [1, ...a2], b: [3, ...b2], tA, tB, out: [3, 5, 6] }); // broadcast left operand
      out.push({ a: [2, 2, ...a2], b: [2, 2, ...b2], tA, tB, out: [2, 2, 5, 6] }); // rank 4
    }
  return out;
}

function run(c: MatMulCase, seed: number): { actual: Float32Array; expected: Float64Array; shape: number[] } {
  const av = seededValues(tf.util.sizeFromShape(c.a), seed);
  const bv = seededValues(tf.util.sizeFromShape(c.b), seed + 1);
  const a = tf.tensor(av, c.a);
  const b = tf.tensor(bv, c.b);
  const y = tf.matMul(a, b, c.tA, c.tB);
  const actual = y.dataSync() as Float32Array;
  const shape = y.shape;
  tf.dispose([a, b, y]);
  return { actual, expected: naiveBatchMatMul(av, c.a, bv, c.b, c.tA, c.tB), shape };
}

describe('wasm BatchMatMul patch', () => {
  beforeAll(async () => {
    await loadWasmBackend(1);
    patchWasmForTraining();
  });
  afterAll(() => unloadWasmBackend());

  it('is registered', () => {
    expect(isPatched('BatchMatMul', 'wasm')).toBe(true);
  });

  for (const c of cases()) {
    it(`matches the naive reference: [${c.a}]${c.tA ? 'ᵀ' : ''} x [${c.b}]${c.tB ? 'ᵀ' : ''}`, () => {
      const { actual, expected, shape } = run(c, 11);
      expect(shape).toEqual(c.out);
      expect(relativeMaxError(actual, expected)).toBeLessThan(TOLERANCE);
    });
  }

  it('splits large batched products into per-matrix GEMMs and stays exact', () => {
    const c: MatMulCase = { a: [2, 256, 256], b: [2, 256, 256], tA: true, tB: false };
    expect(256 ** 3).toBeGreaterThanOrEqual(SPLIT_BATCH_MIN_MACS);
    const { actual, expected } = run(c, 12);
    expect(relativeMaxError(actual, expected)).toBeLessThan(1e-5);
  });

  it('gives matMul gradients equal to the naive products and leaks nothing', () => {
    const before = tf.memory().numTensors;
    const av = seededValues(4 * 3 * 5, 13);
    const bv = seededValues(4 * 5 * 2, 14);
    const a = tf.tensor3d(av, [4, 3, 5]);
    const b = tf.tensor3d(bv, [4, 5, 2]);
    const [da, db] = tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.matMul(x, y).sum())([a, b]);
    // d/da sum(a b) = 1 bᵀ ; d/db = aᵀ 1
    const ones = new Float32Array(4 * 3 * 2).fill(1);
    expect(relativeMaxError(da.dataSync(), naiveBatchMatMul(ones, [4, 3, 2], bv, [4, 5, 2], false, true))).toBeLessThan(TOLERANCE);
    expect(relativeMaxError(db.dataSync(), naiveBatchMatMul(av, [4, 3, 5], ones, [4, 3, 2], true, false))).toBeLessThan(TOLERANCE);
    tf.dispose([a, b, da, db]);
    expect(tf.memory().numTensors).toBe(before);
    expect((tf.backend() as unknown as { numDataIds(): number }).numDataIds()).toBe(before);
  });
});
