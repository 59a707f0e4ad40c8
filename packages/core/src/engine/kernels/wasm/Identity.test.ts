import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadWasmBackend, unloadWasmBackend } from '../../wasm-loader.js';
import { isPatched, patchWasmForTraining } from '../index.js';

function dataIds(): number {
  return (tf.backend() as unknown as { numDataIds(): number }).numDataIds();
}

describe('wasm Identity and same-dtype Cast patches (shared data)', () => {
  beforeAll(async () => {
    await loadWasmBackend(1);
    patchWasmForTraining();
  });
  afterAll(() => unloadWasmBackend());

  it('are registered', () => {
    expect(isPatched('Identity', 'wasm')).toBe(true);
    expect(isPatched('Cast', 'wasm')).toBe(true);
  });

  it('clone and cast-to-same-dtype share the data and survive disposing either side', () => {
    const before = dataIds();
    const x = tf.tensor([1.5, -2, 3], [3]);
    const c = tf.clone(x);
    const f = tf.cast(x, 'float32');
    expect(dataIds()).toBe(before + 1); // one buffer, three tensors
    x.dispose();
    expect(Array.from(c.dataSync())).toEqual([1.5, -2, 3]);
    c.dispose();
    expect(Array.from(f.dataSync())).toEqual([1.5, -2, 3]);
    f.dispose();
    expect(dataIds()).toBe(before);
  });

  it('a real dtype change still converts; to bool means != 0 (the stock kernel wrapped -2.2 to 254)', () => {
    const x = tf.tensor([1.7, -2.2, 0, 0.5, Number.NaN], [5]);
    expect(Array.from(tf.cast(x, 'int32').dataSync())).toEqual([1, -2, 0, 0, 0]);
    expect(Array.from(tf.cast(x, 'bool').dataSync())).toEqual([1, 1, 0, 1, 1]);
    const i = tf.tensor([0, -3, 7], [3], 'int32');
    expect(Array.from(tf.cast(i, 'bool').dataSync())).toEqual([0, 1, 1]);
    expect(Array.from(tf.cast(i, 'float32').dataSync())).toEqual([0, -3, 7]);
    tf.dispose([x, i]);
  });

  it('a variable initialised from a clone keeps its value after the source is disposed and after assign', () => {
    const x = tf.tensor([1, 2], [2]);
    const v = tf.variable(tf.clone(x));
    x.dispose();
    v.assign(tf.add(v, 1));
    expect(Array.from(v.dataSync())).toEqual([2, 3]);
    v.dispose();
  });
});
