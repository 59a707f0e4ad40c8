import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadWasmBackend, unloadWasmBackend } from '../../wasm-loader.js';
import { isPatched, patchWasmForTraining } from '../index.js';
import { relativeMaxError, seededValues } from '../reference.js';
import { silenceCpuBanner } from '../../self-test.js';
import { SLOW_BROADCAST_KERNELS } from './broadcast-binary.js';

type Op = (a: tf.Tensor, b: tf.Tensor) => tf.Tensor;
const OPS: Record<string, Op> = {
  equal: tf.equal,
  greater: tf.greater,
  lessEqual: tf.lessEqual,
  maximum: tf.maximum,
  minimum: tf.minimum,
  pow: (a, b) => tf.pow(tf.abs(a), b),
  logicalAnd: (a, b) => tf.logicalAnd(tf.greater(a, 0), tf.greater(b, 0)),
};
const SHAPES: [number[], number[]][] = [
  [[2, 3, 4, 5], [1, 1, 1, 5]], // per-channel vector
  [[2, 3, 4, 5], [5]], // lower rank
  [[2, 1, 4, 1], [1, 3, 1, 5]], // both operands broadcast
  [[4, 1], [4, 6]],
  [[3, 4], [3, 4]], // equal shapes: stock path
];

function compute(): Map<string, Float32Array> {
  const out = new Map<string, Float32Array>();
  for (const [name, op] of Object.entries(OPS))
    for (const [sa, sb] of SHAPES) {
      // Quantised values so equality cases occur.
      const a = tf.tensor(seededValues(tf.util.sizeFromShape(sa), 71).map((v) => Math.round(v * 3) / 2), sa);
      const b = tf.tensor(seededValues(tf.util.sizeFromShape(sb), 72).map((v) => Math.round(v * 3) / 2), sb);
      const y = op(a, b);
      out.set(`${name} ${JSON.stringify(sa)} ${JSON.stringify(sb)} -> ${JSON.stringify(y.shape)}`, Float32Array.from(y.dataSync()));
      tf.dispose([a, b, y]);
    }
  return out;
}

describe('wasm broadcasting binary kernels (tile first)', () => {
  let expected: Map<string, Float32Array>;
  let actual: Map<string, Float32Array>;

  beforeAll(async () => {
    await tf.setBackend('cpu');
    silenceCpuBanner();
    expected = compute();
    await loadWasmBackend(1);
    patchWasmForTraining();
    actual = compute();
  });
  afterAll(() => unloadWasmBackend());

  it('patches every kernel of the family', () => {
    for (const k of SLOW_BROADCAST_KERNELS) expect(isPatched(k, 'wasm'), k).toBe(true);
  });

  it('matches the cpu backend, shapes included', () => {
    expect([...actual.keys()]).toEqual([...expected.keys()]);
    for (const [key, values] of expected) expect(relativeMaxError(actual.get(key)!, values), key).toBeLessThan(1e-6);
  });

  it("keeps tf.max's gradient exact (its Equal broadcasts)", async () => {
    const x = tf.tensor4d(seededValues(2 * 3 * 4 * 5, 73), [2, 3, 4, 5]);
    const dx = tf.grad((z: tf.Tensor) => tf.max(z, 3).sum())(x).dataSync();
    const xs = x.dataSync();
    for (let p = 0; p < 24; p++) {
      const row = Array.from(xs.slice(p * 5, p * 5 + 5));
      const argmax = row.indexOf(Math.max(...row));
      expect(Array.from(dx.slice(p * 5, p * 5 + 5))).toEqual(row.map((_, i) => (i === argmax ? 1 : 0)));
    }
    x.dispose();
  });
});
