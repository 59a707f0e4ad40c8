import * as tf from '@tensorflow/tfjs';

/** How backends make a kernel's output: cpu and onnxruntime from values, wasm in its heap. */
type TensorMaker = tf.KernelBackend & {
  makeTensorInfo?(shape: number[], dtype: tf.DataType, values: tf.backend_util.BackendValues): tf.TensorInfo;
  makeOutput?(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap?(t: tf.TensorInfo): Float32Array;
};

function makeFloat32(backend: TensorMaker, shape: number[], values: Float32Array): tf.TensorInfo {
  if (backend.makeTensorInfo) return backend.makeTensorInfo(shape, 'float32', values);
  const out = backend.makeOutput!(shape, 'float32');
  backend.typedArrayFromHeap!(out).set(values);
  return out;
}

/**
 * A deliberate fault for tests of the tests: re-registers `kernelName` on `backendName` so that every
 * float32 output is multiplied by `factor` (1.01: a 1 % error). Works on the cpu, wasm and onnxruntime
 * backends: it reads the kernel's output back and makes a new tensor. Returns the function that restores the
 * original kernel.
 */
export function injectScaledOutput(kernelName: string, backendName: string, factor: number): () => void {
  const original = tf.getKernel(kernelName, backendName);
  if (!original) throw new Error(`engine/kernels/faulty-kernel.test-util.ts: backend '${backendName}' has no '${kernelName}' kernel`);
  const scaled = (backend: TensorMaker, t: tf.TensorInfo): tf.TensorInfo => {
    if (t.dtype !== 'float32') return t;
    const values = Float32Array.from(backend.readSync(t.dataId) as Float32Array, (v) => v * factor);
    backend.disposeData(t.dataId);
    return makeFloat32(backend, t.shape, values);
  };
  tf.unregisterKernel(kernelName, backendName);
  tf.registerKernel({
    ...original,
    kernelFunc: (args) => {
      const out = original.kernelFunc(args) as tf.TensorInfo | tf.TensorInfo[];
      const backend = args.backend as TensorMaker;
      return Array.isArray(out) ? out.map((t) => scaled(backend, t)) : scaled(backend, out);
    },
  });
  return () => {
    tf.unregisterKernel(kernelName, backendName);
    tf.registerKernel(original);
  };
}
