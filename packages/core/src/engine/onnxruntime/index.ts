import * as tf from '@tensorflow/tfjs';
import { defaultThreads, listOrtBackends, loadOrtBinding, ortPackageVersion } from './ort-binding.js';
import { BACKEND_NAME, registerBackendFactory, registerOnnxruntimeKernels, timedKernel, unregisterBackendIfInactive } from './register.js';
import { registerFusedGradients } from './fused-gradients.js';
import { gradientSelfTest } from './self-test.js';
import { fusedBatchNormStatus, fusedBatchNormWanted, setFusedBatchNorm } from './kernels/batch-norm-train.js';
import { nativeAdamStatus, nativeConvFilterStatus, nativeOrtRunStatus } from './native.js';

/**
 * tfjs backend 'onnxruntime' whose heavy kernels run in onnxruntime-node (ENGINE.md §11): tensors
 * are the cpu backend's TypedArrays, every kernel without an ORT version runs the cpu kernel on the
 * same arrays, and the heavy ones (convolutions and their gradients, matmuls, batch norm, pooling,
 * elementwise ops, reductions, concat/split, softmax) run as small cached ONNX graphs through the
 * synchronous native binding. See README.md in this folder for formulations and measurements.
 */
export interface OnnxruntimeBackendOptions {
  /** ORT execution provider; 'cpu' here, 'webgpu' to try on a GPU machine later. */
  executionProvider?: 'cpu' | 'webgpu';
  /** ORT intra-op threads per session; default: the machine's available parallelism. */
  intraOpNumThreads?: number;
  /** webgpu EP: kernel outputs stay on the GPU between kernels (gpu-buffer IO binding). Not yet measured. */
  gpuBufferOutputs?: boolean;
}

export interface BackendProbe {
  ok: boolean;
  reason: string;
}

export { DEFERRED_RUN, onnxruntimeStats, resetOnnxruntimeStats } from './stats.js';
export type { KernelStat } from './stats.js';
export { BACKEND_NAME as ONNXRUNTIME_BACKEND_NAME } from './register.js';
export { createBenchStep, BenchUNet, lvitLoss, PlainAdam } from './bench-unet.js';
export type { BenchStep } from './bench-unet.js';
export { probeOrtWebgpu } from './webgpu-probe.js';
export { profileRecordedStep, summarizeOrtProfile } from './ort-profile.js';
export type { ProgramProfile, ProfileRow } from './ort-profile.js';

/**
 * Registers the 'onnxruntime' backend and checks it: onnxruntime-node must load, the execution
 * provider must be compiled in, and one gradient step of a tiny conv net must match the cpu
 * backend. Does not switch the active backend (it restores whatever was active). Kernel stats are
 * reset afterwards.
 */
export async function registerOnnxruntimeBackend(opts: OnnxruntimeBackendOptions = {}): Promise<BackendProbe> {
  const executionProvider = opts.executionProvider ?? 'cpu';
  const intraOpNumThreads = opts.intraOpNumThreads ?? defaultThreads();
  try {
    loadOrtBinding();
    const eps = listOrtBackends();
    if (!eps.includes(executionProvider)) {
      return { ok: false, reason: `onnxruntime-node has no '${executionProvider}' execution provider (has: ${eps.join(', ')})` };
    }
  } catch (e) {
    return { ok: false, reason: `onnxruntime-node does not load: ${(e as Error).message}` };
  }
  const previous = activeBackendName();
  try {
    registerOnnxruntimeKernels();
    registerFusedGradients();
    registerBackendFactory({ executionProvider, intraOpNumThreads, gpuBufferOutputs: opts.gpuBufferOutputs === true && executionProvider === 'webgpu' });
    setFusedBatchNorm(fusedBatchNormWanted(executionProvider), timedKernel);
    const failure = await gradientSelfTest(BACKEND_NAME);
    if (failure) {
      unregisterBackendIfInactive();
      return { ok: false, reason: failure };
    }
    const where = opts.gpuBufferOutputs && executionProvider === 'webgpu' ? ', outputs kept on the GPU' : '';
    return { ok: true, reason: `onnxruntime-node ${ortPackageVersion()} (${executionProvider}${where}, ${intraOpNumThreads} threads): gradient self-test passed; graph runs: ${executionProvider === 'cpu' ? nativeOrtRunStatus() : "onnxruntime-node's binding"}; Adam: ${nativeAdamStatus()}; conv dW: ${nativeConvFilterStatus()}; batch norm: ${fusedBatchNormStatus(executionProvider)}` };
  } catch (e) {
    unregisterBackendIfInactive();
    return { ok: false, reason: `onnxruntime backend failed its self-test: ${(e as Error).message}` };
  } finally {
    if (previous && previous !== tf.getBackend() && tf.findBackendFactory(previous)) await tf.setBackend(previous);
  }
}

function activeBackendName(): string | null {
  // tf.getBackend() would initialise a default backend as a side effect; read the engine instead.
  return (tf.engine() as unknown as { backendName: string | null }).backendName ?? null;
}
