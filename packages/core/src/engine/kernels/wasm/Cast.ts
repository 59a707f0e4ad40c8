import * as tf from '@tensorflow/tfjs';
import { asWasmBackend } from '../heap.js';
import { stockKernel } from '../kernel-scope.js';
import { shareData } from './Identity.js';

/**
 * - A cast to the tensor's own dtype (relu's and many other gradients do `cast(x, 'float32')`)
 *   shares the data instead of copying it; see Identity.ts.
 * - A cast to bool is `x != 0` as on the cpu backend: the stock wasm kernel copies the values into
 *   a Uint8Array, so -2.2 became 254 and 0.5 became 0.
 * Everything else keeps the stock kernel.
 */
export const wasmCastConfig: tf.KernelConfig = {
  kernelName: 'Cast',
  backendName: 'wasm',
  kernelFunc: (args) => {
    const x = (args.inputs as { x: tf.TensorInfo }).x;
    const { dtype } = args.attrs as unknown as tf.CastAttrs;
    if (dtype === x.dtype) return shareData(args.backend, x);
    if (dtype === 'bool' && (x.dtype === 'float32' || x.dtype === 'int32')) {
      const backend = asWasmBackend(args.backend);
      const out = backend.makeOutput(x.shape, 'bool');
      const src = backend.typedArrayFromHeap(x);
      const dst = backend.typedArrayFromHeap(out);
      for (let i = 0; i < src.length; i++) dst[i] = src[i] !== 0 ? 1 : 0;
      return out;
    }
    return stockKernel('Cast', 'wasm').kernelFunc(args);
  },
};
