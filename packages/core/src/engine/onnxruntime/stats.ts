/**
 * Per-kernel call counts and wall time of the onnxruntime backend, split by where the kernel ran:
 * in ORT (`fallback: false`) or in the cpu backend's JS kernel (`fallback: true`). Session
 * creation is reported as its own pseudo-kernel so first-step compile cost stays visible.
 */
export interface KernelStat {
  kernel: string;
  calls: number;
  ms: number;
  fallback: boolean;
}

export const SESSION_CREATE = '(ORT session creation)';

const table = new Map<string, KernelStat>();

export function recordKernel(kernel: string, fallback: boolean, ms: number): void {
  const key = fallback ? `${kernel}\u0000cpu` : kernel;
  let e = table.get(key);
  if (!e) {
    e = { kernel, calls: 0, ms: 0, fallback };
    table.set(key, e);
  }
  e.calls++;
  e.ms += ms;
}

/** Removes session-creation time from the kernel that triggered it and books it separately. */
export function recordSessionCreate(kernel: string, ms: number): void {
  recordKernel(SESSION_CREATE, false, ms);
  const e = table.get(kernel);
  if (e) e.ms -= ms;
  else table.set(kernel, { kernel, calls: 0, ms: -ms, fallback: false });
}

/** All entries, most time first. */
export function onnxruntimeStats(): KernelStat[] {
  return [...table.values()].map((e) => ({ ...e })).sort((a, b) => b.ms - a.ms);
}

export function resetOnnxruntimeStats(): void {
  table.clear();
  outputBytes = 0;
  copiedBytes = 0;
}

let outputBytes = 0;
let copiedBytes = 0;

/**
 * Bytes of the outputs ORT sessions returned so far (graph outputs, whichever kernel or program ran
 * them), and how many of them were copied once more on the way. onnxruntime-node 1.30's synchronous
 * binding copies every output into a fresh ArrayBuffer, even a preallocated one: ~0.3 ms per MB
 * here, plus the garbage collections that external memory starts (engine README, Measurements);
 * sessions run through native/ort-run.cc (ort-binding.ts's DirectSession) copy only outputs they
 * could not preallocate.
 */
export function recordSessionOutputs(bytes: number, copied: number): void {
  outputBytes += bytes;
  copiedBytes += copied;
}

export function sessionOutputBytes(): { returned: number; copied: number } {
  return { returned: outputBytes, copied: copiedBytes };
}

export const DEFERRED_RUN = '(deferred graph run)';
let deferredMs = 0;

/** Rows of native kernels run between a program's graphs (deferred.ts), one per kernel name. */
export const NATIVE_KERNEL = '(native)';

/**
 * One flush of deferred kernels (deferred.ts), booked as its own row and split by what forced it (a
 * read, or the kernel that needed a recorded value); `nativeMs` of it went to native kernels between
 * its graphs, booked in their own rows (`recordNativeKernel`). The kernel wrappers take the whole
 * flush out of that kernel's own time (`deferredRunMs`).
 */
export function recordDeferredRun(cause: string, ms: number, nativeMs = 0): void {
  recordKernel(`${DEFERRED_RUN} before ${cause}`, false, ms - nativeMs);
  deferredMs += ms;
}

export function recordNativeKernel(kernel: string, ms: number): void {
  recordKernel(`${NATIVE_KERNEL} ${kernel}`, false, ms);
}

/** Total time spent in flushes so far (a running clock for the kernel wrappers). */
export function deferredRunMs(): number {
  return deferredMs;
}
