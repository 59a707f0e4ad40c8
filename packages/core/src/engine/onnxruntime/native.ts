import { createRequire } from 'node:module';

/**
 * The native addons (native/*.cc, compiled at install by native/build.mjs where a C++ compiler and
 * Node's headers exist). Each is optional: where it is not built, or is switched off, the engine
 * keeps its JS or ONNX path.
 *
 * - adam.node: one call updates every parameter of a step, its elements split over threads,
 *   bit-identical to the JS loop in kernels/adam.ts. `LVIT_NATIVE_ADAM=0` keeps the JS loop.
 * - conv-filter.node: a convolution's dW as a direct kernel (kernels/conv2d-backprop-filter.ts),
 *   on CPUs with AVX-512 or AVX2 + FMA, and the filter layouts of the NCHWc convs (nhwc-conv.ts).
 *   `LVIT_NATIVE_CONV=0` keeps the ONNX formulations of both.
 * - batch-norm.node: training-mode batch norm (+ ReLU) forward and backward in two memory passes
 *   each (kernels/batch-norm-train.ts), between the ORT graphs; only with `LVIT_NATIVE_BN=1` where
 *   ort-run.node (whose custom ops run the same passes inside the graph) is missing
 *   (`fusedBatchNormWanted` there). `LVIT_NATIVE_BN=0` switches both off.
 * - memory.node: an array's address modulo a power of two, so the buffer pool hands ORT 64-byte
 *   aligned arrays (buffer-pool.ts). `LVIT_NATIVE_ALIGN=0` keeps V8's 16-byte alignment.
 * - ort-run.node: cpu sessions through onnxruntime's C API, outputs written into the engine's arrays
 *   and not copied back (ort-binding.ts). `LVIT_NATIVE_RUN=0` keeps onnxruntime-node's binding.
 */
export interface NativeAdam {
  /**
   * `arrays`: p, m, v, g, p', m', v' for each parameter (Float32Arrays, each parameter's of one
   * length); `stepSizes` lr / (1 - beta1^t) and `invBiasCorrection2Sqrts` 1 / sqrt(1 - beta2^t), one
   * per parameter; `hyper` [beta1, beta2, eps].
   */
  adamStep(arrays: Float32Array[], stepSizes: Float64Array, invBiasCorrection2Sqrts: Float64Array, hyper: Float64Array, threads: number): void;
}

export interface NativeConvFilter {
  /**
   * dW [kh,kw,Cin,Cout] of x [N,H,W,Cin] and dy [N,OH,OW,Cout], written into `dw`; `geometry`
   * [N,H,W,Cin, OH,OW,Cout, kh,kw, strideH,strideW, padTop,padLeft] (no dilation). `isa`: one of
   * `isas()` (default: the first).
   */
  conv2dBackpropFilter(x: Float32Array, dy: Float32Array, dw: Float32Array, geometry: Int32Array, threads: number, isa?: string): void;
  /**
   * An HWIO filter [kh,kw,ci,co] in MLAS's NCHWc layout [O/b][I/b][kh][kw][bi][bo], written into
   * `out`; `dims` [kh,kw,ci,co, block, flipped]: flipped 1 is the dX conv's filter (spatially
   * flipped, ci and co swapped). Channel counts must be multiples of the block.
   */
  nchwcFilter(w: Float32Array, out: Float32Array, dims: Int32Array, threads: number): void;
  /** The instruction sets the kernel runs with on this CPU, best first ('avx512', 'avx2'); empty where it has neither. */
  isas(): string[];
}

export interface NativeBatchNorm {
  /**
   * `arrays` [x, gamma, beta, y, mean, variance] (x, y [rows, C]; the rest [C]), y, mean and variance
   * written; `dims` [rows, C, eps, relu 0|1]. `isa`: one of `isas()` (default: the first).
   */
  batchNormForward(arrays: Float32Array[], dims: Float64Array, threads: number, isa?: string): void;
  /** `arrays` [dy, x, y, gamma, mean, variance, dx, dgamma, dbeta], the last three written; the rest as for the forward. */
  batchNormBackward(arrays: Float32Array[], dims: Float64Array, threads: number, isa?: string): void;
  /** The variants the passes run with on this CPU, best first ('avx512', 'avx2', 'generic'). */
  isas(): string[];
}

export interface NativeMemory {
  addressModulo(view: ArrayBufferView, modulus: number): number;
}

/** A tensor as ort-run.cc takes it: ORT's element type code, dims, and data of exactly that size. */
export interface NativeRunTensor {
  type: number;
  dims: readonly number[];
  data: ArrayBufferView;
}

export interface NativeOrtRun {
  /** Finds the onnxruntime library onnxruntime-node loaded (load the binding first); returns its version. */
  open(): string;
  /** `profilePrefix`: ORT's per-node profiler writes `<prefix>_<date>.json` (ended by `endProfiling`). Its sessions know the custom ops `CUSTOM_OP_DOMAIN`.BatchNormTrain(Grad). */
  createSession(model: Uint8Array, intraOpThreads: number, memArena: boolean, profilePrefix: string | null): unknown;
  sessionInfo(handle: unknown): { inputs: string[]; outputs: { name: string; type: number; shape: number[] }[] };
  /** Feeds per input, fetches per output (null: ORT allocates it); returns the allocated outputs, in order. */
  run(handle: unknown, feeds: NativeRunTensor[], fetches: (NativeRunTensor | null)[]): { type: number; dims: number[]; data: ArrayBuffer }[];
  endProfiling(handle: unknown): string;
  release(handle: unknown): void;
}

/** The domain of ort-run.cc's custom ops (training batch norm forward and backward, batch-norm-train.h). */
export const CUSTOM_OP_DOMAIN = 'lvit.native';

interface Loaded<T> {
  addon: T | null;
  status: string;
}

const loaded = new Map<string, Loaded<unknown>>();

/** native/build/<file>, unless `offVar`=0; the status says which and why. */
function load<T>(file: string, offVar: string, usable: (addon: T) => string | null = () => null): Loaded<T> {
  const known = loaded.get(file);
  if (known) return known as Loaded<T>;
  let result: Loaded<T>;
  if (process.env[offVar] === '0') {
    result = { addon: null, status: `off (${offVar}=0)` };
  } else {
    try {
      // src/engine/onnxruntime and dist/engine/onnxruntime both sit three levels below packages/core.
      const addon = createRequire(import.meta.url)(`../../../native/build/${file}`) as T;
      const why = usable(addon);
      result = why ? { addon: null, status: `not used: ${why}` } : { addon, status: `native (native/build/${file})` };
    } catch (e) {
      result = { addon: null, status: `not loaded: native/build/${file} (${(e as Error).message.split('\n')[0]}); \`node packages/core/native/build.mjs\` builds it` };
    }
  }
  loaded.set(file, result);
  return result;
}

/** The Adam addon, or null (why: `nativeAdamStatus()`). */
export function nativeAdam(): NativeAdam | null {
  return load<NativeAdam>('adam.node', 'LVIT_NATIVE_ADAM').addon;
}

/** Which Adam pass the engine uses, and why. */
export function nativeAdamStatus(): string {
  const { addon, status } = load<NativeAdam>('adam.node', 'LVIT_NATIVE_ADAM');
  return addon ? status : `JS loop; ${status}`;
}

/** The alignment helper, or null where it is not built (or `LVIT_NATIVE_ALIGN=0`). */
export function nativeMemory(): NativeMemory | null {
  return load<NativeMemory>('memory.node', 'LVIT_NATIVE_ALIGN').addon;
}

/** An addon the engine uses while switched on (the default; tests and A/B timing switch it off). */
class SwitchableAddon<T> {
  private on = true;

  constructor(
    private readonly file: string,
    private readonly offVar: string,
    private readonly usable?: (addon: T) => string | null,
  ) {}

  loaded(): Loaded<T> {
    return load<T>(this.file, this.offVar, this.usable);
  }

  active(): T | null {
    return this.on ? this.loaded().addon : null;
  }

  /** Returns the previous setting. */
  set(on: boolean): boolean {
    const was = this.on;
    this.on = on;
    return was;
  }
}

const ortRun = new SwitchableAddon<NativeOrtRun>('ort-run.node', 'LVIT_NATIVE_RUN', openOrtRun);
const batchNorm = new SwitchableAddon<NativeBatchNorm>('batch-norm.node', 'LVIT_NATIVE_BN');
const convFilter = new SwitchableAddon<NativeConvFilter>('conv-filter.node', 'LVIT_NATIVE_CONV', convFilterUnusable);

/**
 * The direct graph runner for sessions made from now on, or null where it is not built, cannot find
 * onnxruntime's library, or is switched off; why: `nativeOrtRunStatus()`.
 */
export function nativeOrtRun(): NativeOrtRun | null {
  return ortRun.active();
}

/** Switches the direct runner on or off for sessions made from now on (tests compare it with the binding); returns the previous setting. */
export function setNativeOrtRun(on: boolean): boolean {
  return ortRun.set(on);
}

/** Opens the runner on the library onnxruntime-node's binding loads, once the binding has set ORT up (its `initOrt`, idempotent). */
function openOrtRun(addon: NativeOrtRun): string | null {
  try {
    (createRequire(import.meta.url)('onnxruntime-node/dist/binding') as { initOrt: () => void }).initOrt();
    addon.open();
    return null;
  } catch (e) {
    return (e as Error).message;
  }
}

/** How the cpu sessions run, and why. */
export function nativeOrtRunStatus(): string {
  const { addon, status } = ortRun.loaded();
  if (!addon) return `onnxruntime-node's binding, one copy per output; ${status}`;
  return ortRun.active() ? `${status}, outputs not copied` : "onnxruntime-node's binding; switched off (setNativeOrtRun)";
}

/** The batch-norm passes where they are built and switched on (tests switch them off to run the kernels' ONNX build). */
export function nativeBatchNorm(): NativeBatchNorm | null {
  return batchNorm.active();
}

/** The loaded addon whether switched on or not. */
export function loadedBatchNorm(): NativeBatchNorm | null {
  return batchNorm.loaded().addon;
}

/** Switches the native batch-norm passes on or off for kernels run from now on (tests: their ONNX build); returns the previous setting. */
export function setNativeBatchNorm(on: boolean): boolean {
  return batchNorm.set(on);
}

/** Whether the batch-norm passes are built, and why not. */
export function nativeBatchNormStatus(): string {
  return batchNorm.loaded().status;
}

/** The direct dW kernel where it is loaded and switched on (why not: `nativeConvFilterStatus()`). */
export function nativeConvFilter(): NativeConvFilter | null {
  return convFilter.active();
}

/** The loaded addon whether switched on or not (tests compare it with the ONNX formulation). */
export function loadedConvFilter(): NativeConvFilter | null {
  return convFilter.loaded().addon;
}

/** Switches the direct dW kernel on or off for kernels recorded from now on (tests, A/B timing); returns the previous setting. */
export function setNativeConvFilter(on: boolean): boolean {
  return convFilter.set(on);
}

/** Which dW formulation the engine uses, and why. */
export function nativeConvFilterStatus(): string {
  const { addon, status } = convFilter.loaded();
  if (!addon) return `ONNX tap GEMMs; ${status}`;
  return convFilter.active() ? `${status}, ${addon.isas()[0]}` : 'ONNX tap GEMMs; switched off (setNativeConvFilter)';
}

function convFilterUnusable(addon: NativeConvFilter): string | null {
  return addon.isas().length > 0 ? null : 'this CPU has neither AVX-512 nor AVX2 with FMA';
}
