import * as tf from '@tensorflow/tfjs';
import { stockKernel, withKernelScope } from '../kernel-scope.js';
import { wasmTileConfig } from './Tile.js';

/**
 * Binary wasm kernels built with `supportsFullBroadcast = false` (comparisons, logical ops,
 * Maximum/Minimum, Pow, FloorDiv, Atan2) fall back to a per-element index computation whenever the
 * shapes differ: Equal([4,128,128,16], [1,1,1,16]) takes 140 ms against 5 ms for equal shapes, and
 * it is what tf.max's gradient runs. This wrapper tiles each operand to the output shape first (the
 * patched Tile is a memory-bound copy) and then calls the stock kernel on equal shapes. One wrapper,
 * one KernelConfig per kernel.
 */
export const SLOW_BROADCAST_KERNELS = [
  'Equal',
  'NotEqual',
  'Greater',
  'GreaterEqual',
  'Less',
  'LessEqual',
  'LogicalAnd',
  'LogicalOr',
  'LogicalXor',
  'Maximum',
  'Minimum',
  'Pow',
  'FloorDiv',
  'Atan2',
] as const;

function broadcastFirst(kernelName: string): tf.KernelFunc {
  return (args) => {
    const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
    const stock = stockKernel(kernelName, 'wasm');
    const sameShape = a.shape.length === b.shape.length && a.shape.every((d, i) => d === b.shape[i]);
    if (sameShape || a.dtype === 'string') return stock.kernelFunc(args);
    const outShape = tf.backend_util.assertAndGetBroadcastShape(a.shape, b.shape);
    if (tf.util.sizeFromShape(outShape) === 0) return stock.kernelFunc(args);
    return withKernelScope(args.backend, 'wasm', (s) => {
      const expand = (t: tf.TensorInfo): tf.TensorInfo => {
        const padded = [...new Array(outShape.length - t.shape.length).fill(1), ...t.shape];
        if (padded.every((d, i) => d === outShape[i])) return s.reshape(t, outShape);
        return s.call(wasmTileConfig.kernelFunc, { x: s.reshape(t, padded) }, { reps: outShape.map((d, i) => d / padded[i]) }, 'Tile');
      };
      return stock.kernelFunc({ inputs: { a: expand(a), b: expand(b) }, backend: args.backend, attrs: args.attrs }) as tf.TensorInfo;
    });
  };
}

export const wasmSlowBroadcastConfigs: tf.KernelConfig[] = SLOW_BROADCAST_KERNELS.map((kernelName) => ({
  kernelName,
  backendName: 'wasm',
  kernelFunc: broadcastFirst(kernelName),
}));
