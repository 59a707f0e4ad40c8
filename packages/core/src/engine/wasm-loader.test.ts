import * as tf from '@tensorflow/tfjs';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { afterAll, describe, expect, it } from 'vitest';
import { patchWasmForTraining } from './kernels/index.js';
import { relativeMaxError, seededValues } from './kernels/reference.js';
import { factoryPrelude, loadWasmBackend, patchBundleText, unloadWasmBackend, wasmModule } from './wasm-loader.js';

/** conv forward + its filter/input gradients + a transposed matMul, read back as flat arrays. */
function workload(): Float32Array[] {
  return tf.tidy(() => {
    const x = tf.tensor4d(seededValues(2 * 12 * 12 * 8, 31), [2, 12, 12, 8]);
    const w = tf.tensor4d(seededValues(3 * 3 * 8 * 16, 32), [3, 3, 8, 16]);
    const a = tf.tensor2d(seededValues(96 * 64, 33), [96, 64]);
    const { value, grads } = tf.valueAndGrads((xx: tf.Tensor, ww: tf.Tensor) => tf.conv2d(xx as tf.Tensor4D, ww as tf.Tensor4D, 1, 'same').square().mean() as tf.Scalar)([x, w]);
    const product = tf.matMul(a, a, true, false);
    return [value, ...grads, product].map((t) => t.dataSync() as Float32Array);
  });
}

describe('wasm-mt loader', () => {
  afterAll(() => unloadWasmBackend());

  it('runs the threaded-SIMD binary with 2 threads, with results equal to the single-thread build', async () => {
    await loadWasmBackend(1);
    patchWasmForTraining();
    const single = workload();
    const info = await loadWasmBackend(2);
    expect(info).toEqual({ threads: 2, multithreaded: true, simd: true });
    expect(wasmModule()?.PThread?.runningWorkers.length).toBe(1); // XNNPACK: main thread + 1 worker
    patchWasmForTraining();
    const threaded = workload();
    threaded.forEach((values, i) => expect(relativeMaxError(values, single[i])).toBeLessThan(1e-5));
  });

  it('rejects thread counts outside the pthread pool', async () => {
    await expect(loadWasmBackend(9)).rejects.toThrow(/threads must be an integer in 1\.\.8/);
    await expect(loadWasmBackend(0)).rejects.toThrow(/threads must be an integer/);
  });

  it('aborts loudly when the bundle text is not the 4.22.0 one', () => {
    const require = createRequire(import.meta.url);
    const text = readFileSync(require.resolve('@tensorflow/tfjs-backend-wasm'), 'utf8');
    expect(() => patchBundleText(text)).not.toThrow();
    const changed = text.replace('return URL.createObjectURL(blob);', 'return URL.createObjectURL(blob, {});');
    expect(() => patchBundleText(changed)).toThrow(/patch 'pthread worker script as a file.*matched 0 times/);
    expect(factoryPrelude(text)).toMatch(/var require\$\$0 = require\('fs'\);[\s\S]*function __spreadArray/);
    expect(() => factoryPrelude('no helpers here')).toThrow(/could not find the rollup requires/);
  });
});
