import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { convGradientCases } from '../conv-cases.js';
import { isPatched, patchCpuForTraining, withStockKernels } from '../index.js';
import { convInfo, naiveConv2DBackpropFilter, relativeMaxError, seededValues } from '../reference.js';
import { silenceCpuBanner } from '../../self-test.js';

const TOLERANCE = 2e-5;

function backpropFilter(x: tf.Tensor, dy: tf.Tensor, c: { strides: number; pad: unknown; filterShape: number[] }, dataFormat = 'NHWC'): tf.Tensor {
  return tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, {
    strides: c.strides,
    pad: c.pad,
    dataFormat,
    filterShape: c.filterShape,
  } as unknown as tf.NamedAttrMap) as tf.Tensor;
}

describe('cpu Conv2DBackpropFilter patch', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
    silenceCpuBanner();
    patchCpuForTraining();
  });

  it('is registered', () => {
    expect(isPatched('Conv2DBackpropFilter', 'cpu')).toBe(true);
  });

  for (const c of convGradientCases()) {
    it(`matches the naive reference: ${c.name}`, () => {
      const info = convInfo(c.xShape, c.filterShape, c.strides, c.pad);
      const xv = seededValues(tf.util.sizeFromShape(c.xShape), 3);
      const dyv = seededValues(tf.util.sizeFromShape(info.outShape), 4);
      const x = tf.tensor4d(xv, c.xShape);
      const dy = tf.tensor4d(dyv, info.outShape);
      const dw = backpropFilter(x, dy, c);
      expect(dw.shape).toEqual(c.filterShape);
      expect(relativeMaxError(dw.dataSync(), naiveConv2DBackpropFilter(xv, dyv, info))).toBeLessThan(TOLERANCE);
      tf.dispose([x, dy, dw]);
    });
  }

  it('agrees with the stock cpu kernel and keeps it for NCHW', async () => {
    const c = { strides: 2, pad: 'same', filterShape: [3, 3, 3, 4] };
    const x = tf.tensor4d(seededValues(2 * 7 * 9 * 3, 5), [2, 7, 9, 3]);
    const dy = tf.tensor4d(seededValues(2 * 4 * 5 * 4, 6), [2, 4, 5, 4]);
    const patched = backpropFilter(x, dy, c).dataSync();
    const stock = await withStockKernels('cpu', () => backpropFilter(x, dy, c).dataSync());
    expect(isPatched('Conv2DBackpropFilter', 'cpu')).toBe(true);
    expect(relativeMaxError(patched, stock)).toBeLessThan(TOLERANCE);
    const xNchw = tf.transpose(x, [0, 3, 1, 2]);
    const dyNchw = tf.transpose(dy, [0, 3, 1, 2]);
    const nchw = backpropFilter(xNchw, dyNchw, c, 'NCHW').dataSync();
    expect(relativeMaxError(nchw, stock)).toBeLessThan(TOLERANCE);
    tf.dispose([x, dy, xNchw, dyNchw]);
  });
});
