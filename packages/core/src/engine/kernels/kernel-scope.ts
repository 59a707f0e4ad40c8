import * as tf from '@tensorflow/tfjs';

/**
 * Backend-level composition for kernel patches: a patched kernel is built only from kernels that
 * already exist on the backend (`getKernel(...).kernelFunc`), never from tf ops, so it does not touch
 * the engine's tape or scopes. Every intermediate is tracked and disposed when the kernel returns.
 */

type Backend = tf.KernelBackend;

/** Stock kernels replaced by a patch, keyed `backend/kernel`, so patched kernels can still call them. */
const stockKernels = new Map<string, tf.KernelConfig>();

export function stockKernelKey(kernelName: string, backendName: string): string {
  return `${backendName}/${kernelName}`;
}

export function rememberStockKernel(config: tf.KernelConfig): void {
  stockKernels.set(stockKernelKey(config.kernelName, config.backendName), config);
}

export function forgetStockKernel(kernelName: string, backendName: string): void {
  stockKernels.delete(stockKernelKey(kernelName, backendName));
}

/** The stock kernel, i.e. what was registered before any patch. Throws if the backend lacks it. */
export function stockKernel(kernelName: string, backendName: string): tf.KernelConfig {
  const config = stockKernels.get(stockKernelKey(kernelName, backendName)) ?? tf.getKernel(kernelName, backendName);
  if (!config) throw new Error(`engine/kernels: backend '${backendName}' has no '${kernelName}' kernel`);
  return config;
}

export class KernelScope {
  private readonly temps: tf.TensorInfo[] = [];
  readonly backend: Backend;

  /** `backend` is the kernel's `args.backend` (typed `{}` by tfjs). */
  constructor(
    backend: object,
    readonly backendName: string,
  ) {
    this.backend = backend as Backend;
  }

  /**
   * Runs a stock kernel of this backend (never a patch, so patches cannot recurse into each other);
   * the output is an intermediate unless passed to `keep`.
   */
  run(kernelName: string, inputs: tf.NamedTensorInfoMap, attrs: tf.NamedAttrMap = {}): tf.TensorInfo {
    return this.call(stockKernel(kernelName, this.backendName).kernelFunc, inputs, attrs, kernelName);
  }

  /** Runs a given kernel function (e.g. another patch) with the same bookkeeping as `run`. */
  call(func: tf.KernelFunc, inputs: tf.NamedTensorInfoMap, attrs: tf.NamedAttrMap = {}, label = 'kernel'): tf.TensorInfo {
    const out = func({ inputs, backend: this.backend, attrs });
    if (Array.isArray(out)) {
      this.temps.push(...out);
      throw new Error(`engine/kernels: ${label} returned several tensors; a KernelScope composes single-output kernels`);
    }
    this.temps.push(out);
    return out;
  }

  reshape(x: tf.TensorInfo, shape: number[]): tf.TensorInfo {
    return this.run('Reshape', { x }, { shape });
  }

  transpose(x: tf.TensorInfo, perm: number[]): tf.TensorInfo {
    return this.run('Transpose', { x }, { perm });
  }

  slice(x: tf.TensorInfo, begin: number[], size: number[]): tf.TensorInfo {
    return this.run('Slice', { x }, { begin, size });
  }

  /** Marks `t` as the kernel's output: it survives `dispose`. */
  keep(t: tf.TensorInfo): tf.TensorInfo {
    const i = this.temps.lastIndexOf(t);
    if (i >= 0) this.temps.splice(i, 1);
    return t;
  }

  dispose(): void {
    for (const t of this.temps) this.backend.disposeData(t.dataId);
    this.temps.length = 0;
  }
}

/** Runs `body` with a fresh scope and disposes every intermediate, also when it throws. */
export function withKernelScope(backend: object, backendName: string, body: (s: KernelScope) => tf.TensorInfo): tf.TensorInfo {
  const scope = new KernelScope(backend, backendName);
  try {
    return scope.keep(body(scope));
  } finally {
    scope.dispose();
  }
}

/** Explicit NHWC padding in the form tfjs kernels accept. */
export function explicitPad(top: number, bottom: number, left: number, right: number): number[][] {
  return [
    [0, 0],
    [top, bottom],
    [left, right],
    [0, 0],
  ];
}
