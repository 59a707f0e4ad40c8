import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadWasmBackend, unloadWasmBackend } from '../../wasm-loader.js';
import { convGradientCases } from '../conv-cases.js';
import { isPatched, patchWasmForTraining } from '../index.js';
import { convInfo, naiveConv2DBackpropInput, relativeMaxError, seededValues } from '../reference.js';

const TOLERANCE = 2e-5;

describe('wasm Conv2DBackpropInput patch', () => {
  beforeAll(async () => {
    await loadWasmBackend(1);
    patchWasmForTraining();
  });
  afterAll(() => unloadWasmBackend());

  it('is registered', () => {
    expect(isPatched('Conv2DBackpropInput', 'wasm')).toBe(true);
  });

  // Stride 1 and tiled kernel==stride cases take the rewritten paths; the rest check the fallback.
  for (const c of convGradientCases()) {
    it(`matches the naive reference: ${c.name}`, () => {
      const info = convInfo(c.xShape, c.filterShape, c.strides, c.pad);
      const dyv = seededValues(tf.util.sizeFromShape(info.outShape), 7);
      const wv = seededValues(tf.util.sizeFromShape(c.filterShape), 8);
      const dy = tf.tensor4d(dyv, info.outShape);
      const w = tf.tensor4d(wv, c.filterShape);
      const dx = tf.engine().runKernel('Conv2DBackpropInput', { dy, filter: w }, {
        strides: c.strides,
        pad: c.pad,
        dataFormat: 'NHWC',
        dimRoundingMode: undefined,
        inputShape: c.xShape,
      } as unknown as tf.NamedAttrMap) as tf.Tensor;
      expect(dx.shape).toEqual(c.xShape);
      expect(relativeMaxError(dx.dataSync(), naiveConv2DBackpropInput(dyv, wv, info))).toBeLessThan(TOLERANCE);
      tf.dispose([dy, w, dx]);
    });
  }

  it('serves tf.conv2dTranspose (the U-Net up path) and leaks nothing', () => {
    const before = tf.memory().numTensors;
    const x = tf.tensor4d(seededValues(2 * 3 * 4 * 6, 9), [2, 3, 4, 6]);
    const w = tf.tensor4d(seededValues(2 * 2 * 5 * 6, 10), [2, 2, 5, 6]); // [k,k,out,in]
    const y = tf.conv2dTranspose(x, w, [2, 6, 8, 5], 2, 'valid');
    const info = convInfo([2, 6, 8, 5], [2, 2, 5, 6], 2, 'valid');
    expect(relativeMaxError(y.dataSync(), naiveConv2DBackpropInput(x.dataSync() as Float32Array, w.dataSync() as Float32Array, info))).toBeLessThan(TOLERANCE);
    tf.dispose([x, w, y]);
    expect(tf.memory().numTensors).toBe(before);
    expect((tf.backend() as unknown as { numDataIds(): number }).numDataIds()).toBe(before);
  });
});
