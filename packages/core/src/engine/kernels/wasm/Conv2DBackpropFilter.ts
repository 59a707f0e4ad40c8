import * as tf from '@tensorflow/tfjs';
import { conv2DBackpropFilterViaConv } from '../conv-backprop-filter.js';

/** The wasm backend has no Conv2DBackpropFilter at all: without it a conv net cannot train on wasm. */
export const wasmConv2DBackpropFilterConfig: tf.KernelConfig = {
  kernelName: 'Conv2DBackpropFilter',
  backendName: 'wasm',
  kernelFunc: conv2DBackpropFilterViaConv('wasm'),
};
