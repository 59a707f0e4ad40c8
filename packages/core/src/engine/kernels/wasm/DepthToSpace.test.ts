import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadWasmBackend, unloadWasmBackend } from '../../wasm-loader.js';
import { isPatched, patchWasmForTraining } from '../index.js';
import { seededValues } from '../reference.js';

/** out[n, h*b+i, w*b+j, c] = x[n, h, w, (i*b + j)*C + c] (TensorFlow's DepthToSpace, NHWC). */
function naiveDepthToSpace(x: Float32Array, [N, H, W, D]: number[], b: number): number[] {
  const C = D / (b * b);
  const out = new Array<number>(x.length);
  for (let n = 0; n < N; n++)
    for (let h = 0; h < H; h++)
      for (let w = 0; w < W; w++)
        for (let i = 0; i < b; i++)
          for (let j = 0; j < b; j++)
            for (let c = 0; c < C; c++) out[((n * H * b + h * b + i) * W * b + w * b + j) * C + c] = x[((n * H + h) * W + w) * D + (i * b + j) * C + c];
  return out;
}

describe('wasm DepthToSpace patch', () => {
  beforeAll(async () => {
    await loadWasmBackend(1);
    patchWasmForTraining();
  });
  afterAll(() => unloadWasmBackend());

  it('is registered', () => expect(isPatched('DepthToSpace', 'wasm')).toBe(true));

  for (const [shape, b] of [
    [[2, 3, 4, 8], 2],
    [[1, 2, 3, 18], 3],
    [[3, 1, 1, 4], 2],
  ] as [number[], number][]) {
    it(`${JSON.stringify(shape)} block ${b} matches the naive reference exactly`, () => {
      const values = seededValues(tf.util.sizeFromShape(shape), 51);
      const x = tf.tensor4d(values, shape as [number, number, number, number]);
      const y = tf.depthToSpace(x, b, 'NHWC');
      expect(y.shape).toEqual([shape[0], shape[1] * b, shape[2] * b, shape[3] / (b * b)]);
      expect(Array.from(y.dataSync())).toEqual(naiveDepthToSpace(values, shape, b));
      tf.dispose([x, y]);
    });
  }
});
