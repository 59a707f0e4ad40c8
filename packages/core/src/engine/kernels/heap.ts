import type * as tf from '@tensorflow/tfjs';

/**
 * Direct access to tensors in the wasm heap for kernels written in JS. Take views only after the
 * last `makeOutput`: growing the heap replaces its buffer, and views taken before can go stale.
 */
export interface WasmBackendLike {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(t: tf.TensorInfo): Float32Array | Int32Array | Uint8Array;
}

export function asWasmBackend(backend: object): WasmBackendLike {
  return backend as WasmBackendLike;
}
