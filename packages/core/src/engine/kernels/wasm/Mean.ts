import * as tf from '@tensorflow/tfjs';
import { leadingAxesReduction } from './Sum.js';

/** Mean over leading axes (tf.moments over [0,1,2] of NHWC) without the stock transpose; see Sum.ts. */
export const wasmMeanConfig: tf.KernelConfig = { kernelName: 'Mean', backendName: 'wasm', kernelFunc: leadingAxesReduction('Mean') };
