import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { injectScaledOutput } from './kernels/faulty-kernel.test-util.js';
import { patchCpuForTraining, patchWasmForTraining } from './kernels/index.js';
import { gradientSelfTest, SELF_TEST_TOLERANCE } from './self-test.js';
import { loadWasmBackend, unloadWasmBackend } from './wasm-loader.js';

/**
 * The backend self-test must pass on correct kernels and fail when any kernel of a training step is
 * off by 1 %: forward (conv, matmul, softmax, max-pool) and backward (the conv filter and input
 * gradients, max-pool gradient) alike.
 */

const CPU_KERNELS = ['Conv2D', 'Conv2DBackpropFilter', 'Conv2DBackpropInput', 'BatchMatMul', 'Softmax', 'MaxPool', 'MaxPoolGrad'];
// The kernels the wasm training patches replace (kernels/wasm/).
const WASM_KERNELS = ['Conv2DBackpropFilter', 'Conv2DBackpropInput', 'BatchMatMul', 'MaxPoolGrad'];

async function expectCaught(kernel: string, backend: string): Promise<void> {
  const restore = injectScaledOutput(kernel, backend, 1.01);
  try {
    const result = await gradientSelfTest(backend);
    expect(result.ok, `${backend} ${kernel} x1.01: ${result.detail}`).toBe(false);
    // Failed by the comparison, not by a throw.
    expect(result.detail).toMatch(/^max gradient error \S+ \((x|w1|w2|up1|up2|head|loss)\) vs stock cpu/);
    expect(result.maxError).toBeGreaterThan(1e-3);
  } finally {
    restore();
  }
}

describe('gradientSelfTest', () => {
  beforeAll(() => patchCpuForTraining());

  it('patched cpu passes, well inside the tolerance', async () => {
    const result = await gradientSelfTest('cpu');
    expect(result.ok, result.detail).toBe(true);
    expect(result.maxError).toBeLessThan(SELF_TEST_TOLERANCE / 10);
  });

  for (const kernel of CPU_KERNELS) it(`cpu: a 1 % error in ${kernel} fails it`, () => expectCaught(kernel, 'cpu'));

  describe('wasm (1 thread, patched)', () => {
    beforeAll(async () => {
      await loadWasmBackend(1);
      patchWasmForTraining();
    });
    afterAll(() => unloadWasmBackend());

    it('passes', async () => {
      const result = await gradientSelfTest('wasm');
      expect(result.ok, result.detail).toBe(true);
    });

    for (const kernel of WASM_KERNELS) it(`a 1 % error in the ${kernel} patch fails it`, () => expectCaught(kernel, 'wasm'));
  });
});
