import * as tf from '@tensorflow/tfjs';
import { asWasmBackend } from '../heap.js';
import { stockKernel } from '../kernel-scope.js';

/**
 * The wasm Concat copies one `subarray().set()` per outer row: for a channel concat of NHWC maps
 * that is one call per pixel and input (16 ms for two [4,128,128,16]; the U-Net skip connections).
 * This version copies short rows with a plain loop and long rows with `set`. Same for float32,
 * int32 and bool; strings keep the stock kernel.
 */

/** Rows at least this long are copied with `set` (a memcpy); shorter ones element by element. */
export const LONG_ROW = 128;

type Heap = Float32Array | Int32Array | Uint8Array;

/** Copies `count` elements; picks a loop or `set` by length. */
export function copyRun(dst: Heap, dstAt: number, src: Heap, srcAt: number, count: number): void {
  if (count >= LONG_ROW) {
    dst.set(src.subarray(srcAt, srcAt + count), dstAt);
    return;
  }
  for (let i = 0; i < count; i++) dst[dstAt + i] = src[srcAt + i];
}

export const wasmConcatConfig: tf.KernelConfig = {
  kernelName: 'Concat',
  backendName: 'wasm',
  kernelFunc: (args) => {
    const list = (args.inputs as unknown as tf.TensorInfo[]).filter((t) => tf.util.sizeFromShape(t.shape) > 0);
    const { axis } = args.attrs as unknown as tf.ConcatAttrs;
    if (list.length < 2 || list[0].dtype === 'string' || list[0].dtype === 'complex64') return stockKernel('Concat', 'wasm').kernelFunc(args);
    const $axis = tf.util.parseAxisParam(axis, list[0].shape)[0];
    const outShape = tf.backend_util.computeOutShape(list.map((t) => t.shape), $axis);
    const outer = tf.util.sizeFromShape(list[0].shape.slice(0, $axis));
    const inners = list.map((t) => tf.util.sizeFromShape(t.shape.slice($axis)));
    const total = inners.reduce((a, b) => a + b, 0);
    const backend = asWasmBackend(args.backend);
    const out = backend.makeOutput(outShape, list[0].dtype);
    const dst = backend.typedArrayFromHeap(out);
    let offset = 0;
    list.forEach((t, i) => {
      const src = backend.typedArrayFromHeap(t);
      const inner = inners[i];
      for (let r = 0; r < outer; r++) copyRun(dst, r * total + offset, src, r * inner, inner);
      offset += inner;
    });
    return out;
  },
};
