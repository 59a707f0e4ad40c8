import * as tf from '@tensorflow/tfjs';
import { conv2DBackpropFilterViaConv } from '../conv-backprop-filter.js';
import { stockKernel } from '../kernel-scope.js';

const viaConv = conv2DBackpropFilterViaConv('cpu');

/**
 * The cpu backend's stock Conv2DBackpropFilter is a 7-deep loop over `TensorBuffer.get()` at about
 * 0.01 GFLOPS (ENGINE.md §2); as one forward conv it runs at the speed of cpu Conv2D (~1 GFLOPS).
 * NCHW keeps the stock kernel.
 */
export const cpuConv2DBackpropFilterConfig: tf.KernelConfig = {
  kernelName: 'Conv2DBackpropFilter',
  backendName: 'cpu',
  kernelFunc: (args) => {
    const { dataFormat } = args.attrs as unknown as tf.Conv2DBackpropFilterAttrs;
    return dataFormat === 'NHWC' ? viaConv(args) : stockKernel('Conv2DBackpropFilter', 'cpu').kernelFunc(args);
  },
};
