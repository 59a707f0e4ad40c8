import * as tf from '@tensorflow/tfjs';
import { KernelScope, stockKernel, withKernelScope } from '../kernel-scope.js';

/**
 * The wasm BatchMatMul sends a product to XNNPACK only when `!transposeA && !transposeB && batch == 1`;
 * everything else runs a blocked scalar loop at 0.7-2.7 GFLOPS (ENGINE.md §1.1a). Every matMul
 * gradient uses a transpose, so every Linear/attention backward pass lands there. This wrapper:
 * - transposes explicitly (a memory-bound copy) so the product itself has no transpose flags;
 * - folds the batch into the rows when b is shared ([B,M,K] x [K,N] is one [B*M,K] x [K,N] GEMM);
 * - splits a true batch into per-matrix XNNPACK GEMMs only when each has >= 2^24 multiply-adds:
 *   XNNPACK operator creation costs milliseconds, so attention-sized batches ([48,196,64] x
 *   [48,64,196]) stay on the stock loop, which is faster for them.
 */
export const SPLIT_BATCH_MIN_MACS = 2 ** 24;

interface Operand {
  /** [batch, rows, cols] after the explicit transpose. */
  t: tf.TensorInfo;
  batch: number;
}

/** x [...batch, r, c] -> [batch, c, r] if transposed else [batch, r, c]. */
function asPlain3d(s: KernelScope, x: tf.TensorInfo, transposed: boolean): Operand {
  const batch = x.shape.slice(0, -2).reduce((p, d) => p * d, 1);
  const [r, c] = x.shape.slice(-2);
  const x3 = s.reshape(x, [batch, r, c]);
  return { t: transposed ? s.transpose(x3, [0, 2, 1]) : x3, batch };
}

function plainMatMul(s: KernelScope, a: tf.TensorInfo, b: tf.TensorInfo): tf.TensorInfo {
  return s.run('BatchMatMul', { a, b }, { transposeA: false, transposeB: false });
}

/** One XNNPACK GEMM per batch entry (a batch of 1 is broadcast), concatenated along the batch axis. */
function perBatchMatMul(s: KernelScope, a: Operand, b: Operand, m: number, k: number, n: number): tf.TensorInfo {
  const outs: tf.TensorInfo[] = [];
  for (let i = 0; i < Math.max(a.batch, b.batch); i++) {
    const ai = a.batch === 1 ? a.t : s.slice(a.t, [i, 0, 0], [1, m, k]);
    const bi = s.slice(b.t, [i, 0, 0], [1, k, n]);
    outs.push(plainMatMul(s, ai, bi));
  }
  return s.run('Concat', outs as unknown as tf.NamedTensorInfoMap, { axis: 0 });
}

export const wasmBatchMatMulConfig: tf.KernelConfig = {
  kernelName: 'BatchMatMul',
  backendName: 'wasm',
  kernelFunc: (args) => {
    const { inputs, backend, attrs } = args;
    const { a, b } = inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
    const { transposeA, transposeB } = attrs as unknown as tf.BatchMatMulAttrs;
    const batchA = a.shape.slice(0, -2).reduce((p, d) => p * d, 1);
    const batchB = b.shape.slice(0, -2).reduce((p, d) => p * d, 1);
    const simpleBatch = batchA === batchB || batchA === 1 || batchB === 1;
    const stock = stockKernel('BatchMatMul', 'wasm');
    if (a.dtype !== 'float32' || b.dtype !== 'float32' || !simpleBatch || a.shape.length < 2 || b.shape.length < 2) {
      return stock.kernelFunc(args);
    }
    const m = transposeA ? a.shape[a.shape.length - 1] : a.shape[a.shape.length - 2];
    const k = transposeA ? a.shape[a.shape.length - 2] : a.shape[a.shape.length - 1];
    const n = transposeB ? b.shape[b.shape.length - 2] : b.shape[b.shape.length - 1];
    const kB = transposeB ? b.shape[b.shape.length - 1] : b.shape[b.shape.length - 2];
    if (k !== kB) return stock.kernelFunc(args); // let the stock kernel raise its own shape error
    const batchShape = tf.backend_util.assertAndGetBroadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2));
    const outShape = [...batchShape, m, n];
    if (batchA === 1 && batchB === 1 && !transposeA && !transposeB) return stock.kernelFunc(args);
    return withKernelScope(backend, 'wasm', (s) => {
      const A = asPlain3d(s, a, transposeA);
      const B = asPlain3d(s, b, transposeB);
      let out: tf.TensorInfo;
      if (B.batch === 1) {
        // Shared right operand: fold the batch into the rows, one GEMM.
        out = plainMatMul(s, s.reshape(A.t, [1, A.batch * m, k]), B.t);
      } else if (m * k * n >= SPLIT_BATCH_MIN_MACS) {
        out = perBatchMatMul(s, A, B, m, k, n);
      } else {
        out = plainMatMul(s, A.t, B.t);
      }
      return s.reshape(out, outShape);
    });
  },
};
