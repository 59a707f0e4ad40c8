import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadWasmBackend, unloadWasmBackend } from '../../wasm-loader.js';
import { convGradientCases } from '../conv-cases.js';
import { isPatched, patchWasmForTraining } from '../index.js';
import { convInfo, naiveConv2DBackpropFilter, relativeMaxError, seededValues } from '../reference.js';

const TOLERANCE = 2e-5; // float32 sums of <= 126 products, relative to the output's max

describe('wasm Conv2DBackpropFilter patch', () => {
  beforeAll(async () => {
    await loadWasmBackend(1);
    patchWasmForTraining();
  });
  afterAll(() => unloadWasmBackend());

  it('is registered (stock wasm has no such kernel)', () => {
    expect(isPatched('Conv2DBackpropFilter', 'wasm')).toBe(true);
  });

  for (const c of convGradientCases()) {
    it(`matches the naive reference: ${c.name}`, () => {
      const info = convInfo(c.xShape, c.filterShape, c.strides, c.pad);
      const xv = seededValues(tf.util.sizeFromShape(c.xShape), 1);
      const dyv = seededValues(tf.util.sizeFromShape(info.outShape), 2);
      const expected = naiveConv2DBackpropFilter(xv, dyv, info);
      const x = tf.tensor4d(xv, c.xShape);
      const dy = tf.tensor4d(dyv, info.outShape);
      const dw = tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, {
        strides: c.strides,
        pad: c.pad,
        dataFormat: 'NHWC',
        dimRoundingMode: undefined,
        filterShape: c.filterShape,
      } as unknown as tf.NamedAttrMap) as tf.Tensor;
      expect(dw.shape).toEqual(c.filterShape);
      expect(relativeMaxError(dw.dataSync(), expected)).toBeLessThan(TOLERANCE);
      tf.dispose([x, dy, dw]);
    });
  }

  it('leaks no tensors', () => {
    const before = tf.memory().numTensors;
    const x = tf.ones([1, 6, 6, 2]);
    const dy = tf.ones([1, 3, 3, 3]);
    const dw = tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, { strides: 2, pad: 'same', dataFormat: 'NHWC', filterShape: [3, 3, 2, 3] } as unknown as tf.NamedAttrMap) as tf.Tensor;
    tf.dispose([x, dy, dw]);
    expect(tf.memory().numTensors).toBe(before);
    expect((tf.backend() as unknown as { numDataIds(): number }).numDataIds()).toBe(tf.memory().numTensors);
  });
});
