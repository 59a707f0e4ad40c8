import { createRequire } from 'node:module';
import os from 'node:os';
import { nativeOrtRun, type NativeOrtRun, type NativeRunTensor } from './native.js';
import { recordSessionOutputs } from './stats.js';

/**
 * Synchronous access to onnxruntime-node's native binding (ENGINE.md §11).
 *
 * tfjs kernels are synchronous, but onnxruntime-node's public `InferenceSession.run` returns a
 * Promise (it only defers to setImmediate). The internal module `onnxruntime-node/dist/binding`
 * loads and runs synchronously. It is not a public API: the package is pinned to 1.30.0 and
 * `ort-binding.test.ts` fails loudly if the entry point changes shape.
 *
 * Cpu sessions run through native/ort-run.cc where it is built (`DirectSession`): the same library and
 * options, but ORT's outputs stay in the engine's arrays, where the binding copies each once more;
 * and those sessions know the engine's custom ops (`CUSTOM_OP_DOMAIN`).
 */

/** A tensor as the native binding reads it (it only looks at these four fields). */
export interface OrtFeed {
  dims: readonly number[];
  type: OrtDataType;
  location: 'cpu';
  data: OrtTypedArray;
}

export type OrtDataType = 'float32' | 'int32' | 'bool' | 'int64' | 'uint8';
export type OrtTypedArray = Float32Array | Int32Array | Uint8Array | BigInt64Array;

/**
 * A tensor ORT keeps on the GPU (IO binding): a previous run's output with location 'gpu-buffer';
 * `gpuBuffer` is the binding's external handle to the WebGPU buffer. Fed back as it came.
 */
export interface OrtGpuFeed {
  dims: readonly number[];
  type: OrtDataType;
  location: 'gpu-buffer';
  gpuBuffer: unknown;
}

/**
 * What the binding returns per output (an onnxruntime-common Tensor). With gpu-buffer outputs,
 * `location` is 'gpu-buffer', `data` is not there and `dispose()` frees the GPU buffer.
 */
export interface OrtResult {
  dims: readonly number[];
  type: string;
  data: OrtTypedArray;
  location?: string;
  gpuBuffer?: unknown;
  dispose?: () => void;
}

/** A loaded graph, the binding's or a DirectSession. */
interface NativeSession {
  run(feeds: Record<string, OrtFeed | OrtGpuFeed>, fetches: Record<string, OrtFeed | null>, runOptions: object): Record<string, OrtResult>;
  dispose(): void;
  endProfiling(): string;
  readonly inputMetadata?: { name: string; type: number; shape: number[] }[];
  readonly outputMetadata?: { name: string; type: number; shape: number[] }[];
}

interface BindingSession extends NativeSession {
  loadModel(buffer: ArrayBufferLike, byteOffset: number, byteLength: number, options: object): void;
}

interface NativeBinding {
  InferenceSession: new () => BindingSession;
  listSupportedBackends: () => { name: string; bundled: boolean }[];
}

export interface OrtSessionOptions {
  executionProvider: 'cpu' | 'webgpu';
  intraOpNumThreads: number;
  /** ORT's per-session memory arena for graph intermediates (off: hundreds of sessions would each keep their peak). */
  cpuMemArena?: boolean;
  /**
   * webgpu EP only: all-float32 graphs leave their outputs on the GPU (`preferredOutputLocation:
   * 'gpu-buffer'`), so the next kernel reads them there instead of a copy made on the CPU.
   * Wired, not yet measured on a GPU.
   */
  gpuBufferOutputs?: boolean;
  /** ORT's per-node profiler writes `<prefix>_<date>.json` (ended by `OrtSession.endProfiling`). */
  profileFilePrefix?: string;
}

let loaded: NativeBinding | null = null;

/** Loads the binding once; throws an Error naming this file if the internal entry point changed. */
export function loadOrtBinding(): NativeBinding {
  if (loaded) return loaded;
  const require = createRequire(import.meta.url);
  const mod = require('onnxruntime-node/dist/binding') as { binding?: unknown; initOrt?: unknown };
  const version = (require('onnxruntime-node/package.json') as { version: string }).version;
  const fail = (what: string) =>
    new Error(`ort-binding.ts: onnxruntime-node ${version}: internal binding changed (${what}); pin 1.30.0`);
  if (typeof mod.initOrt !== 'function') throw fail('initOrt() missing');
  const b = mod.binding as Partial<NativeBinding> | undefined;
  if (!b || typeof b.InferenceSession !== 'function') throw fail('binding.InferenceSession missing');
  if (typeof b.listSupportedBackends !== 'function') throw fail('binding.listSupportedBackends missing');
  const proto = b.InferenceSession.prototype as Partial<BindingSession>;
  for (const m of ['loadModel', 'run', 'dispose'] as const) {
    if (typeof proto[m] !== 'function') throw fail(`InferenceSession.prototype.${m} missing`);
  }
  (mod.initOrt as () => void)();
  loaded = b as NativeBinding;
  return loaded;
}

/** Execution providers compiled into this onnxruntime-node build (cpu, and webgpu on Linux x64). */
export function listOrtBackends(): string[] {
  return loadOrtBinding()
    .listSupportedBackends()
    .map((b) => b.name);
}

export function ortPackageVersion(): string {
  const require = createRequire(import.meta.url);
  return (require('onnxruntime-node/package.json') as { version: string }).version;
}

export function defaultThreads(): number {
  return Math.max(1, Math.min(os.availableParallelism?.() ?? os.cpus().length, 16));
}

/**
 * Native session options. Spinning is off: the backend holds hundreds of small sessions, each with
 * its own intra-op pool, and spinning workers of the previous kernel steal the cores from the next
 * one (measured: 40 sessions round robin took 880 ms with spinning, 160 ms without; 1 session 100 ms).
 * On the cpu EP the memory pattern is off too: without the arena it is one block per run sized for
 * the run's peak, beside the freed arrays the buffer pool keeps. Off, the full-size LViT-T step peaked
 * at 2818 MB RSS instead of 3491, the full-width U-Net at 1824 instead of 2147, step times within noise.
 */
export function nativeOptions(opts: OrtSessionOptions, gpuOutputs = false): object {
  return {
    ...(gpuOutputs ? { preferredOutputLocation: 'gpu-buffer' } : {}),
    executionProviders: [{ name: opts.executionProvider }],
    intraOpNumThreads: opts.intraOpNumThreads,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
    executionMode: 'sequential',
    enableCpuMemArena: opts.cpuMemArena ?? false,
    ...(opts.executionProvider === 'cpu' ? { enableMemPattern: false } : {}),
    ...(opts.profileFilePrefix ? { enableProfiling: true, profileFilePrefix: opts.profileFilePrefix } : {}),
    extra: { session: { intra_op: { allow_spinning: '0' }, inter_op: { allow_spinning: '0' } } },
  };
}

/** One loaded ONNX graph; `run` is synchronous. Inputs are named i0..in, outputs o0..om. */
export class OrtSession {
  private readonly native: NativeSession;
  private readonly outputNames: string[];
  /** Static output shapes/types from ORT's shape inference, or null if any dim is unknown. */
  private readonly outputs: { dims: number[]; size: number; type: OrtDataType; ctor: TypedArrayCtor }[] | null;
  private readonly nullFetches: Record<string, null>;

  /**
   * `declaredShapes[i]`, when given, is the shape output i must have; otherwise ORT's inferred
   * static shape is used. (ORT reports an unknown rank as [], like a scalar, so an undeclared output
   * whose inferred rank is 0 is fetched unallocated: correct, but copied out of ORT's memory.)
   */
  /** `gpuOutputs`: ORT allocates every output on the GPU and returns it there (gpu-buffer IO binding). */
  constructor(model: Uint8Array, opts: OrtSessionOptions, numOutputs: number, declaredShapes: (readonly number[] | undefined)[] = [], gpuOutputs = false) {
    const B = loadOrtBinding();
    const direct = opts.executionProvider === 'cpu' && !gpuOutputs ? nativeOrtRun() : null;
    if (direct) {
      this.native = new DirectSession(direct, model, opts);
    } else {
      const session = new B.InferenceSession();
      session.loadModel(model.buffer, model.byteOffset, model.byteLength, nativeOptions(opts, gpuOutputs));
      this.native = session;
    }
    this.outputNames = Array.from({ length: numOutputs }, (_, i) => `o${i}`);
    this.nullFetches = Object.fromEntries(this.outputNames.map((n) => [n, null]));
    this.outputs = gpuOutputs ? null : staticOutputs(this.native, this.outputNames, declaredShapes);
  }

  /**
   * Runs the graph. Outputs are JS-allocated arrays that ORT writes into (preallocated fetches):
   * V8 then accounts for their memory and collects them like any tensor of the cpu backend. (ORT-
   * allocated outputs come back as external ArrayBuffers V8 does not count, so garbage piled up to
   * GBs of RSS and every allocation paid fresh page faults.)
   */
  run(feeds: Record<string, OrtFeed | OrtGpuFeed>, alloc: (ctor: TypedArrayCtor, length: number) => OrtFeed['data'] = (c, n) => new c(n)): OrtResult[] {
    const results = this.outputs ? this.runInto(this.outputs, feeds, alloc) : this.runAllocated(feeds);
    const bytes = results.reduce((a, r) => a + (r.data?.byteLength ?? 0), 0);
    // The direct runner copies only what ORT allocated itself; the binding copies every output.
    recordSessionOutputs(bytes, this.native instanceof DirectSession && this.outputs ? 0 : bytes);
    return results;
  }

  /** ORT writes into arrays from `alloc` (preallocated fetches). */
  private runInto(outputs: NonNullable<OrtSession['outputs']>, feeds: Record<string, OrtFeed | OrtGpuFeed>, alloc: (ctor: TypedArrayCtor, length: number) => OrtFeed['data']): OrtResult[] {
    const fetches: Record<string, OrtFeed> = {};
    const results: OrtResult[] = [];
    for (let i = 0; i < outputs.length; i++) {
      const o = outputs[i];
      const r: OrtFeed = { dims: o.dims, type: o.type, location: 'cpu', data: alloc(o.ctor, o.size) };
      fetches[this.outputNames[i]] = r;
      results.push(r);
    }
    this.native.run(feeds, fetches, {});
    return results;
  }

  /** ORT allocates the outputs (shapes unknown before running, or kept on the GPU). */
  private runAllocated(feeds: Record<string, OrtFeed | OrtGpuFeed>): OrtResult[] {
    const out = this.native.run(feeds, this.nullFetches, {});
    return this.outputNames.map((n) => out[n]);
  }

  /** Output shapes and types known before running (declared or inferred), or null. */
  outputSpecs(): { dims: number[]; type: OrtDataType }[] | null {
    return this.outputs?.map((o) => ({ dims: [...o.dims], type: o.type })) ?? null;
  }

  /** Ends ORT's profiler (sessions created with `profileFilePrefix`); returns the file it wrote. */
  endProfiling(): string {
    return this.native.endProfiling();
  }

  dispose(): void {
    this.native.dispose();
  }
}

export type TypedArrayCtor = Float32ArrayConstructor | Int32ArrayConstructor | Uint8ArrayConstructor;

const ORT_ELEM: Record<number, { type: OrtDataType; ctor: TypedArrayCtor }> = {
  1: { type: 'float32', ctor: Float32Array },
  6: { type: 'int32', ctor: Int32Array },
  9: { type: 'bool', ctor: Uint8Array },
};

/** ORT's element type codes (ONNXTensorElementDataType). */
const ORT_TYPE_CODE: Record<OrtDataType, number> = { float32: 1, uint8: 2, int32: 6, int64: 7, bool: 9 };

/**
 * A cpu session run by native/ort-run.cc, with the binding's session options (`nativeOptions`): feeds
 * and preallocated fetches are handed to ORT as they are, and nothing is copied back. Outputs without
 * a fetch come back as ORT allocated them, copied once (as from the binding).
 */
class DirectSession implements NativeSession {
  private readonly handle: unknown;
  private readonly inputNames: string[];
  readonly outputMetadata: { name: string; type: number; shape: number[] }[];

  constructor(
    private readonly addon: NativeOrtRun,
    model: Uint8Array,
    opts: OrtSessionOptions,
  ) {
    this.handle = addon.createSession(model, opts.intraOpNumThreads, opts.cpuMemArena ?? false, opts.profileFilePrefix ?? null);
    const info = addon.sessionInfo(this.handle);
    this.inputNames = info.inputs;
    this.outputMetadata = info.outputs;
  }

  run(feeds: Record<string, OrtFeed | OrtGpuFeed>, fetches: Record<string, OrtFeed | null>): Record<string, OrtResult> {
    const ins = this.inputNames.map((name) => {
      const feed = feeds[name];
      if (!feed || feed.location !== 'cpu') throw new Error(`ort-binding.ts: input ${name} is not fed a cpu tensor`);
      return nativeTensor(feed);
    });
    const outs = this.outputMetadata.map(({ name }) => (fetches[name] ? nativeTensor(fetches[name]!) : null));
    const allocated = this.addon.run(this.handle, ins, outs);
    const result: Record<string, OrtResult> = {};
    this.outputMetadata.forEach(({ name }, i) => {
      if (outs[i]) return;
      const o = allocated.shift()!;
      const elem = ORT_ELEM[o.type];
      if (!elem) throw new Error(`ort-binding.ts: output ${name} has ORT element type ${o.type}, which the engine does not read`);
      result[name] = { dims: o.dims, type: elem.type, data: new elem.ctor(o.data), location: 'cpu' };
    });
    return result;
  }

  endProfiling(): string {
    return this.addon.endProfiling(this.handle);
  }

  dispose(): void {
    this.addon.release(this.handle);
  }
}

function nativeTensor(t: OrtFeed): NativeRunTensor {
  return { type: ORT_TYPE_CODE[t.type], dims: t.dims, data: t.data };
}

function staticOutputs(native: NativeSession, names: string[], declared: (readonly number[] | undefined)[]) {
  const meta = native.outputMetadata as { name: string; type: number; shape: number[] }[] | undefined;
  if (!meta) return null;
  const outs = [];
  for (let i = 0; i < names.length; i++) {
    const m = meta.find((x) => x.name === names[i]);
    const elem = m && ORT_ELEM[m.type];
    if (!m || !elem) return null;
    const dims = declared[i] ? [...declared[i]!] : m.shape;
    if (!declared[i] && (dims.length === 0 || dims.some((d) => !(d >= 0)))) return null;
    outs.push({ dims, size: dims.reduce((a, b) => a * b, 1), ...elem });
  }
  return outs;
}
