import * as tf from '@tensorflow/tfjs';
import { asWasmBackend } from '../heap.js';
import { stockKernel } from '../kernel-scope.js';
import { copyRun } from './Concat.js';

/**
 * The wasm SplitV is one Slice per piece, and Slice copies one `subarray().set()` per outer index:
 * per pixel for the channel split that is the gradient of a channel concat (18 ms for
 * [4,128,128,32] in halves; ENGINE.md §1.3 measured it at 11.5% of a step). Same loop as Concat.
 */
export const wasmSplitVConfig: tf.KernelConfig = {
  kernelName: 'SplitV',
  backendName: 'wasm',
  kernelFunc: (args) => {
    const x = (args.inputs as { x: tf.TensorInfo }).x;
    const { numOrSizeSplits, axis } = args.attrs as unknown as tf.SplitVAttrs;
    if (x.dtype === 'string' || x.dtype === 'complex64') return stockKernel('SplitV', 'wasm').kernelFunc(args);
    const $axis = tf.util.parseAxisParam(axis, x.shape)[0];
    const sizes = tf.backend_util.prepareSplitSize(x as tf.Tensor, numOrSizeSplits, $axis) as number[];
    const outer = tf.util.sizeFromShape(x.shape.slice(0, $axis));
    const inner = tf.util.sizeFromShape(x.shape.slice($axis + 1));
    const total = x.shape[$axis] * inner;
    const backend = asWasmBackend(args.backend);
    const outs = sizes.map((size) => backend.makeOutput(x.shape.map((d, i) => (i === $axis ? size : d)), x.dtype));
    const src = backend.typedArrayFromHeap(x); // after every makeOutput: the heap may have grown
    let offset = 0;
    outs.forEach((out, i) => {
      const dst = backend.typedArrayFromHeap(out);
      const width = sizes[i] * inner;
      for (let r = 0; r < outer; r++) copyRun(dst, r * width, src, r * total + offset, width);
      offset += width;
    });
    return outs;
  },
};
