import * as tf from '@tensorflow/tfjs';
import { OnnxruntimeBackend } from './backend.js';
import { fusedAdamKernel } from './kernels/adam.js';
import { batchNormKernels } from './kernels/batch-norm.js';
import { conv2dKernels } from './kernels/conv2d.js';
import { conv2dBackpropFilterKernels } from './kernels/conv2d-backprop-filter.js';
import { conv2dBackpropInputKernels } from './kernels/conv2d-backprop-input.js';
import { elementwiseKernels } from './kernels/elementwise.js';
import { layoutKernels } from './kernels/layout.js';
import { matmulKernels } from './kernels/matmul.js';
import { maxPoolKernels } from './kernels/max-pool.js';
import { reduceKernels } from './kernels/reduce.js';
import { resizeKernels } from './kernels/resize.js';
import type { OrtKernel, OrtKernelArgs } from './kernels/util.js';
import { OrtSessionOptions } from './ort-binding.js';
import { deferredRunMs, recordKernel } from './stats.js';

export const BACKEND_NAME = 'onnxruntime';

/** Every kernel that has an ORT implementation (each may still decline a call and fall back). */
export const ORT_KERNELS: OrtKernel[] = [
  ...conv2dKernels,
  ...conv2dBackpropInputKernels,
  ...conv2dBackpropFilterKernels,
  ...matmulKernels,
  ...batchNormKernels,
  ...maxPoolKernels,
  ...elementwiseKernels,
  ...reduceKernels,
  ...layoutKernels,
  ...resizeKernels,
];

/**
 * Runs a kernel with its stats: wall time minus any flush of deferred kernels it forced (booked
 * separately), and the kernel's name on the backend so that a flush can say what forced it.
 */
export function timed(name: string, args: Parameters<tf.KernelFunc>[0], run: () => { out: tf.TensorInfo | tf.TensorInfo[]; fallback: boolean }): tf.TensorInfo | tf.TensorInfo[] {
  const backend = args.backend as OnnxruntimeBackend;
  const t0 = performance.now();
  const d0 = deferredRunMs();
  const outer = backend.currentKernel;
  backend.currentKernel = name;
  try {
    const { out, fallback } = run();
    recordKernel(name, fallback, performance.now() - t0 - (deferredRunMs() - d0));
    return out;
  } finally {
    backend.currentKernel = outer;
  }
}

function runCpu(name: string, cpu: tf.KernelFunc, args: Parameters<tf.KernelFunc>[0]): tf.TensorInfo | tf.TensorInfo[] {
  const backend = args.backend as OnnxruntimeBackend;
  backend.materialize(args.inputs);
  const out = cpu(args) as tf.TensorInfo | tf.TensorInfo[];
  backend.noteCpuOutputs(out, name, args.inputs);
  return out;
}

function timedCpu(name: string, cpu: tf.KernelFunc): tf.KernelFunc {
  return (args) => timed(name, args, () => ({ out: runCpu(name, cpu, args), fallback: true }));
}

function withOrt(name: string, ort: OrtKernel, cpu: tf.KernelFunc): tf.KernelFunc {
  return (args) =>
    timed(name, args, () => {
      const out = ort.run(args as unknown as OrtKernelArgs);
      return out ? { out, fallback: false } : { out: runCpu(name, cpu, args), fallback: true };
    });
}

/** A kernel with its stats (the fused kernels that have no cpu counterpart). */
export function timedKernel(k: tf.KernelConfig): tf.KernelFunc {
  return (args) => timed(k.kernelName, args, () => ({ out: k.kernelFunc(args) as tf.TensorInfo | tf.TensorInfo[], fallback: false }));
}

let kernelsRegistered = false;

/**
 * Registers every cpu kernel under the 'onnxruntime' backend (they run on the same TypedArrays, no
 * copies), with the ORT implementations in front of the heavy ones. Idempotent.
 */
export function registerOnnxruntimeKernels(): void {
  if (kernelsRegistered) return;
  const ort = new Map(ORT_KERNELS.map((k) => [k.kernelName, k]));
  const cpuNames = new Set<string>();
  for (const cfg of tf.getKernelsForBackend('cpu')) {
    cpuNames.add(cfg.kernelName);
    const o = ort.get(cfg.kernelName);
    const kernelFunc = o ? withOrt(cfg.kernelName, o, cfg.kernelFunc) : timedCpu(cfg.kernelName, cfg.kernelFunc);
    tf.registerKernel({ ...cfg, backendName: BACKEND_NAME, kernelFunc });
  }
  tf.registerKernel({ ...fusedAdamKernel, kernelFunc: timedKernel(fusedAdamKernel) });
  const orphans = ORT_KERNELS.filter((k) => !cpuNames.has(k.kernelName)).map((k) => k.kernelName);
  if (orphans.length) throw new Error(`onnxruntime/register.ts: no cpu kernel to fall back to for ${orphans.join(', ')}`);
  kernelsRegistered = true;
}

const current: OrtSessionOptions = { executionProvider: 'cpu', intraOpNumThreads: 1 };

/**
 * Registers the backend factory, or, when it exists, switches the live backend to these session
 * options (never removes it: that would drop every tensor it holds).
 */
export function registerBackendFactory(opts: OrtSessionOptions): void {
  Object.assign(current, opts);
  const live = tf.findBackend(BACKEND_NAME) as OnnxruntimeBackend | null;
  live?.setOrtOptions(current);
  if (tf.findBackendFactory(BACKEND_NAME)) return;
  // Priority 0: tfjs never picks it by itself; engine/backend.ts selects it explicitly.
  tf.registerBackend(BACKEND_NAME, () => new OnnxruntimeBackend({ ...current }), 0);
}

/** Drops the backend after a failed check, unless it is the active one (its tensors would go too). */
export function unregisterBackendIfInactive(): void {
  const active = (tf.engine() as unknown as { backendName: string | null }).backendName;
  if (active !== BACKEND_NAME && tf.findBackendFactory(BACKEND_NAME)) tf.removeBackend(BACKEND_NAME);
}
