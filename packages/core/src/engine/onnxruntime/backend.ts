import type * as tf from '@tensorflow/tfjs';
import { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import { BufferPool, PooledArray, type TypedArrayCtor } from './buffer-pool.js';
import { DeferredProgram, PROGRAM_KEY_MARK, type FinishedProgram, type KernelBuild, type NativeRun, type ValueSpec } from './deferred.js';
import { setOrtKernelThresholds, type thresholds as Thresholds } from './kernels/util.js';
import { setNchwcEnabled } from './kernels/nhwc-conv.js';
import { GraphBuilder } from './onnx-graph.js';
import { OrtDataType, OrtFeed, OrtGpuFeed, OrtResult, OrtSession, OrtSessionOptions } from './ort-binding.js';
import { recordDeferredRun, recordKernel, recordNativeKernel, recordSessionCreate } from './stats.js';

/**
 * The 'onnxruntime' tfjs backend: the cpu backend's storage (one TypedArray per tensor) and all its
 * kernels, with the heavy ones replaced by cached ORT sessions that read those arrays in place and
 * write their outputs into arrays from a recycling pool, which become the output tensors.
 *
 * Storage: every tensor lives in `this.data` as in MathBackendCPU. On the webgpu EP with
 * `gpuBufferOutputs`, ORT outputs stay on the GPU (`onGpu`) with no CPU array until something reads
 * them there (a cpu kernel, `readSync`): then one Identity run with a CPU output copies them down.
 * That path is wired but not yet measured on a GPU.
 */
/** Sees every kernel call while set (the model exporter, export/trace.ts, follows a forward pass with it). */
export interface KernelTracer {
  ortKernel(build: (g: GraphBuilder) => void, inputs: readonly tf.TensorInfo[], outputs: readonly tf.TensorInfo[]): void;
  cpuKernel(kernel: string, inputs: tf.NamedTensorInfoMap, outputs: readonly tf.TensorInfo[]): void;
}

export class OnnxruntimeBackend extends MathBackendCPU {
  tracer: KernelTracer | null = null;
  private readonly sessions = new Map<string, OrtSession>();
  readonly pool = new BufferPool();
  private readonly alloc = (ctor: Parameters<BufferPool['acquire']>[0], n: number) => this.pool.acquire(ctor, n);
  /** ORT outputs left on the GPU, by dataId; their `values` stay undefined until downloaded. */
  private readonly onGpu = new Map<object, OrtResult>();
  /** Deferred execution (deferred.ts): kernels recorded since the last flush. */
  private program = new DeferredProgram();
  private deferEnabled = false;
  private flushing = false;
  /** Thresholds to restore when deferral is turned off. */
  private eagerThresholds: typeof Thresholds | null = null;
  /** Output specs per kernel key (null: ORT cannot tell them before running, so the kernel runs eagerly). */
  private readonly specs = new Map<string, ValueSpec[] | null>();
  /** Arrays of disposed tensors, held back from the pool while a recorded program may still read them. */
  private postponed: [PooledArray, object][] = [];
  private profilePrefix: string | null = null;
  private readonly profiled = new Set<string>();
  /** Recorded outputs of programs that failed to run, with the error (their values never come). */
  private readonly failed = new WeakMap<object, string>();
  /** The kernel running now (register.ts sets it): what a flush is booked against. */
  currentKernel: string | null = null;

  constructor(
    private ortOptions: OrtSessionOptions,
    private readonly maxSessions = 4000,
  ) {
    super();
    setNchwcEnabled(ortOptions.executionProvider === 'cpu');
    if (ortOptions.executionProvider === 'cpu' && process.env.LVIT_ORT_DEFER !== '0') this.setDeferred(true);
  }

  get options(): Readonly<OrtSessionOptions> {
    return this.ortOptions;
  }

  /** New execution provider or thread count: later kernels compile new sessions with them. */
  setOrtOptions(opts: OrtSessionOptions): void {
    if (JSON.stringify(opts) === JSON.stringify(this.ortOptions)) return;
    if (opts.executionProvider !== 'cpu') this.setDeferred(false);
    this.ortOptions = { ...opts };
    setNchwcEnabled(opts.executionProvider === 'cpu');
    for (const s of this.sessions.values()) s.dispose();
    this.sessions.clear();
  }

  /** The TypedArray of a tensor, or its GPU buffer, as an ORT feed (no copy). */
  feedOf(t: tf.TensorInfo): OrtFeed | OrtGpuFeed {
    const gpu = this.onGpu.get(t.dataId);
    if (gpu) return { dims: t.shape, type: gpu.type as OrtDataType, location: 'gpu-buffer', gpuBuffer: gpu.gpuBuffer };
    const values = this.data.get(t.dataId)!.values;
    const type = ORT_TYPE[t.dtype];
    if (!type) throw new Error(`onnxruntime/backend.ts: dtype ${t.dtype} cannot be fed to ORT`);
    let data = values as OrtFeed['data'];
    if (!(data instanceof TYPED_ARRAY[t.dtype])) data = new TYPED_ARRAY[t.dtype](values as ArrayLike<number>) as OrtFeed['data'];
    return { dims: t.shape, type, location: 'cpu', data };
  }

  /**
   * Runs a cached single-kernel graph. `build` declares one graph input per entry of `inputs`, in
   * order, and the outputs; it only runs when `key` is new. Returns one TensorInfo per output.
   * `native`, where given, computes the same outputs from the inputs' arrays: on the cpu execution
   * provider it runs instead of the graph (deferred: between the program's graphs, deferred.ts).
   */
  runGraph(kernel: string, key: string, build: (g: GraphBuilder) => void, inputs: tf.TensorInfo[], native?: NativeRun): tf.TensorInfo[] {
    const useNative = native && this.ortOptions.executionProvider === 'cpu' && this.tracer === null ? native : undefined;
    if (this.deferring()) {
      const specs = this.outputSpecs(kernel, key, build);
      if (specs) {
        if (this.program.size >= MAX_DEFERRED_KERNELS) this.flush('(program size limit)');
        return this.program.record(kernel, key, build, inputs, specs, (t) => (this.feedOf(t) as OrtFeed).data, (spec) => this.makePending(spec), useNative);
      }
    }
    if (useNative) {
      const specs = this.outputSpecs(kernel, key, build);
      if (specs) return this.runNative(useNative, inputs, specs);
    }
    let session = this.sessions.get(key);
    if (!session) session = this.createSession(kernel, key, build);
    const feeds: Record<string, OrtFeed | OrtGpuFeed> = {};
    for (let i = 0; i < inputs.length; i++) feeds[`i${i}`] = this.feedOf(inputs[i]);
    const results = session.run(feeds, this.alloc);
    const outputs = results.map((r) => this.adopt(r));
    this.tracer?.ortKernel(build, inputs, outputs);
    return outputs;
  }

  /**
   * Deferred execution on or off (deferred.ts). While on, every op that has an ORT kernel records
   * into the open program (the cpu/ORT size thresholds are 0 and cpu views are off, so small ops and
   * contiguous slices do not force a flush); turning it off flushes first.
   */
  setDeferred(on: boolean): void {
    if (on === this.deferEnabled) return;
    if (on && this.ortOptions.executionProvider !== 'cpu') throw new Error('onnxruntime/backend.ts: deferred execution is implemented for the cpu execution provider only');
    if (!on) this.flush('(deferral turned off)');
    this.deferEnabled = on;
    if (on) this.eagerThresholds = setOrtKernelThresholds({ elements: 0, broadcast: 0, reduce: 0, matmulMacs: 0, cpuViews: false });
    else if (this.eagerThresholds) setOrtKernelThresholds(this.eagerThresholds);
  }

  get deferred(): boolean {
    return this.deferEnabled;
  }

  private deferring(): boolean {
    return this.deferEnabled && !this.flushing && this.tracer === null;
  }

  /** A kernel's output shapes and dtypes without running it: declared by its build, else ORT's shape inference. */
  private outputSpecs(kernel: string, key: string, build: KernelBuild): ValueSpec[] | null {
    const known = this.specs.get(key);
    if (known !== undefined) return known;
    const g = new GraphBuilder();
    build(g);
    let specs: ValueSpec[] | null = null;
    if (g.outputShapes.every((s) => s !== undefined) && g.outputTypes.every((t) => TF_DTYPE[t])) {
      specs = g.outputShapes.map((s, i) => ({ shape: [...s!], dtype: TF_DTYPE[g.outputTypes[i]]! }));
    } else {
      const session = this.sessions.get(key) ?? this.createSession(kernel, key, build);
      specs = session.outputSpecs()?.map((o) => ({ shape: o.dims, dtype: TF_DTYPE[o.type]! })) ?? null;
      if (specs?.some((s) => !s.dtype)) specs = null;
    }
    this.specs.set(key, specs);
    return specs;
  }

  /** Storage for a recorded kernel's output: its `values` run the open program when first read. */
  private makePending(spec: ValueSpec): tf.TensorInfo {
    const info = this.makeTensorInfo(spec.shape, spec.dtype);
    const record = this.data.get(info.dataId) as { values?: tf.backend_util.BackendValues };
    let stored: tf.backend_util.BackendValues | undefined;
    Object.defineProperty(record, 'values', {
      configurable: true,
      enumerable: true,
      get: () => {
        if (stored === undefined) this.flush(this.currentKernel ?? '(read)');
        if (stored === undefined) {
          const why = this.failed.get(info.dataId);
          throw new Error(`onnxruntime/backend.ts: a deferred kernel's output [${spec.shape.join(',')}] was never computed: its program failed to run (${why ?? 'unknown error'})`);
        }
        return stored;
      },
      set: (v: tf.backend_util.BackendValues) => (stored = v),
    });
    return info;
  }

  /** Runs the open program as one graph and gives every alive recorded output its array. */
  flush(cause = '(explicit)'): void {
    if (this.flushing || this.program.size === 0) return;
    const t0 = performance.now();
    const program = this.program;
    this.program = new DeferredProgram();
    this.flushing = true;
    let nativeMs = 0;
    try {
      nativeMs = this.runProgram(program.finish((id) => this.data.has(id)));
    } catch (e) {
      const why = (e as Error).message.split('\n')[0];
      for (const id of program.pendingIds()) this.failed.set(id, why);
      throw e;
    } finally {
      this.flushing = false;
      const postponed = this.postponed;
      this.postponed = [];
      for (const [values, id] of postponed) this.pool.release(values, id);
      recordDeferredRun(cause, performance.now() - t0, nativeMs);
    }
  }

  /**
   * A finished program, stage by stage: native kernels, then the stage's graph. Alive values get
   * their arrays; an array only the program itself reads is recycled after the last stage reading
   * it. Returns the native kernels' time.
   */
  private runProgram(done: FinishedProgram): number {
    const slots: (OrtFeed['data'] | undefined)[] = done.concrete.map((e) => e.values);
    const n = slots.length;
    const specOf = (k: number): ValueSpec => (k < n ? done.concrete[k] : done.computed[k - n].spec);
    let nativeMs = 0;
    for (const stage of done.stages) {
      for (const step of stage.native) {
        const t0 = performance.now();
        const outs = step.outputs.map((k) => (slots[k] = this.pool.acquire(TYPED_ARRAY[specOf(k).dtype], sizeOf(specOf(k).shape))));
        step.run(step.inputs.map((k) => slots[k]!), outs);
        const ms = performance.now() - t0;
        recordNativeKernel(step.kernel, ms);
        nativeMs += ms;
      }
      const graph = stage.graph;
      if (graph) {
        const session = this.sessions.get(graph.key) ?? this.createProgramSession(graph.key, graph.write);
        const feeds: Record<string, OrtFeed> = {};
        graph.feeds.forEach((k, i) => (feeds[`i${i}`] = { dims: specOf(k).shape, type: ORT_TYPE[specOf(k).dtype]!, location: 'cpu', data: slots[k]! }));
        session.run(feeds, this.alloc).forEach((r, i) => (slots[graph.outputs[i]] = r.data));
      }
      for (const k of stage.lastReadHere) {
        const values = slots[k] as PooledArray | undefined;
        if (values !== undefined) this.recycle(values);
        slots[k] = undefined;
      }
    }
    done.computed.forEach((v, i) => {
      const values = slots[n + i] as PooledArray | undefined;
      if (values === undefined) return;
      if (!v.alive) return this.recycle(values);
      (this.data.get(v.id) as { values: unknown }).values = values;
      this.pool.own(values, v.id);
    });
    return nativeMs;
  }

  /** A native kernel run on concrete inputs (eager execution). */
  private runNative(run: NativeRun, inputs: tf.TensorInfo[], specs: ValueSpec[]): tf.TensorInfo[] {
    this.materialize(inputs);
    const outs = specs.map((s) => this.pool.acquire(TYPED_ARRAY[s.dtype], sizeOf(s.shape)));
    run(inputs.map((t) => (this.feedOf(t) as OrtFeed).data), outs);
    return outs.map((values, i) => this.adoptArray(values, specs[i].shape, specs[i].dtype));
  }

  /** An array no tensor holds, back to the pool. */
  private recycle(values: PooledArray): void {
    const token = {};
    this.pool.own(values, token);
    this.pool.release(values, token);
  }

  /**
   * A recorded program's session: the options of every session (spinning and the memory arena stay
   * off: measured on the full-width U-Net step, spinning gave 0-5 %, within noise, and the arena
   * doubled peak RSS), plus the profiler while program profiling is on.
   */
  private createProgramSession(key: string, write: KernelBuild): OrtSession {
    const opts = { ...this.ortOptions, ...(this.profilePrefix ? { profileFilePrefix: this.profilePrefix } : {}) };
    const session = this.createSession(DEFERRED_GRAPH, key, write, false, opts);
    if (this.profilePrefix) this.profiled.add(key);
    return session;
  }

  /**
   * ORT's per-node profiler for recorded programs: from now on each program compiles a profiled
   * session (files `<prefix>_*.json`; node names say which tfjs kernel wrote them). Cached program
   * sessions are dropped so that the next step is profiled too.
   */
  startProgramProfiling(prefix: string): void {
    this.flush('(profiling started)');
    this.profilePrefix = prefix;
    for (const key of [...this.sessions.keys()]) if (key.includes(PROGRAM_KEY_MARK)) this.dropSession(key);
  }

  /** Ends the profiling; returns the files written. Profiled sessions are dropped (they would keep recording). */
  endProgramProfiling(): string[] {
    this.flush('(profiling ended)');
    const files: string[] = [];
    for (const key of this.profiled) {
      const session = this.sessions.get(key);
      if (session) files.push(session.endProfiling());
      this.dropSession(key);
    }
    this.profiled.clear();
    this.profilePrefix = null;
    return files;
  }

  private dropSession(key: string): void {
    this.sessions.get(key)?.dispose();
    this.sessions.delete(key);
  }

  /** Whether a graph's outputs stay on the GPU: webgpu EP, `gpuBufferOutputs`, float32 outputs only. */
  private keepsOnGpu(g: GraphBuilder): boolean {
    const o = this.ortOptions;
    return o.executionProvider === 'webgpu' && o.gpuBufferOutputs === true && g.outputTypes.every((t) => t === 'float32');
  }

  private createSession(kernel: string, key: string, build: (g: GraphBuilder) => void, cpuOutputs = false, opts: OrtSessionOptions = this.ortOptions): OrtSession {
    const t0 = performance.now();
    const g = new GraphBuilder();
    build(g);
    const session = new OrtSession(g.toBytes(), opts, g.numOutputs, g.outputShapes, !cpuOutputs && this.keepsOnGpu(g));
    if (this.sessions.size >= this.maxSessions) {
      // Shapes keep changing (e.g. evaluation at many sizes): drop the oldest sessions.
      this.dropSession(this.sessions.keys().next().value as string);
    }
    this.sessions.set(key, session);
    recordSessionCreate(kernel, performance.now() - t0);
    return session;
  }

  /** Wraps an array from `pool.acquire` as a tensor of this backend (a JS kernel's output; recycled when disposed). */
  adoptArray(values: PooledArray, shape: number[], dtype: tf.DataType): tf.TensorInfo {
    const info = this.makeTensorInfo(shape, dtype, values);
    this.pool.own(values, info.dataId);
    return info;
  }

  /** Wraps an ORT output (array, or GPU buffer) as a tensor of this backend (no copy). */
  private adopt(r: OrtResult): tf.TensorInfo {
    const dtype = TF_DTYPE[r.type];
    if (!dtype) throw new Error(`onnxruntime/backend.ts: ORT returned unsupported type ${r.type}`);
    const shape = Array.from(r.dims, Number);
    if (r.location === 'gpu-buffer') {
      const info = this.makeTensorInfo(shape, dtype);
      this.onGpu.set(info.dataId, r);
      return info;
    }
    return this.adoptArray(r.data as PooledArray, shape, dtype);
  }

  /** Before a cpu kernel runs: inputs that live on the GPU get their CPU arrays. */
  materialize(inputs: tf.TensorInfo[] | Record<string, tf.TensorInfo | null | undefined>): void {
    for (const t of Object.values(inputs)) if (t) this.download(t.dataId);
  }

  /** Copies a GPU-resident tensor to its CPU array once, through an Identity graph with a CPU output. */
  private download(dataId: object): void {
    const gpu = this.onGpu.get(dataId);
    const record = this.data.get(dataId);
    if (!gpu || !record || record.values !== undefined) return;
    const t0 = performance.now();
    const dims = Array.from(gpu.dims, Number);
    const type = gpu.type as OrtDataType;
    const key = `(download) ${type} ${dims.join('x')}`;
    const session = this.sessions.get(key) ?? this.createSession('(gpu-buffer download)', key, (g) => g.output(g.input(type, dims), type, dims), true);
    const [out] = session.run({ i0: { dims, type, location: 'gpu-buffer', gpuBuffer: gpu.gpuBuffer } }, this.alloc);
    record.values = out.data as tf.backend_util.BackendValues;
    this.pool.own(out.data as PooledArray, dataId);
    recordKernel('(gpu-buffer download)', false, performance.now() - t0);
  }

  /** After a cpu kernel ran: its outputs may view an input's buffer (contiguous Slice). */
  noteCpuOutputs(out: tf.TensorInfo | tf.TensorInfo[], kernel: string, inputs: tf.NamedTensorInfoMap): void {
    const outputs = Array.isArray(out) ? out : [out];
    // A Reshape/Identity of a recorded value stays recorded (reading it here would flush).
    for (const t of outputs) if (!this.program.isPending(t.dataId)) this.pool.noteAlias(this.data.get(t.dataId)?.values, t.dataId);
    this.tracer?.cpuKernel(kernel, inputs, outputs);
  }

  override readSync(dataId: object): tf.backend_util.BackendValues {
    this.download(dataId);
    // dataSync()/arraySync() hand this very array to user code, which may keep it after dispose.
    this.pool.escape(this.data.get(dataId)?.values);
    return super.readSync(dataId);
  }

  override disposeData(dataId: object, force = false): boolean {
    const unset = this.program.isPending(dataId) || this.failed.has(dataId);
    const values = unset ? undefined : this.data.get(dataId)?.values;
    const released = super.disposeData(dataId, force);
    if (released && values && !this.data.has(dataId)) {
      // A recorded kernel may still read this array when its program runs.
      if (this.program.size > 0) this.postponed.push([values as PooledArray, dataId]);
      else this.pool.release(values, dataId);
    }
    if (released && !this.data.has(dataId)) this.releaseGpu(dataId);
    return released;
  }

  numSessions(): number {
    return this.sessions.size;
  }

  private releaseGpu(dataId: object): void {
    this.onGpu.get(dataId)?.dispose?.();
    this.onGpu.delete(dataId);
  }

  /** Tensors whose data is on the GPU only (not yet downloaded). */
  numOnGpu(): number {
    return [...this.onGpu.keys()].filter((id) => this.data.get(id)?.values === undefined).length;
  }

  override dispose(): void {
    this.program = new DeferredProgram();
    this.postponed = [];
    for (const id of [...this.onGpu.keys()]) this.releaseGpu(id);
    for (const s of this.sessions.values()) s.dispose();
    this.sessions.clear();
    this.pool.clear();
    super.dispose();
  }
}

/** Kernels recorded before a flush is forced (a loop that never reads would otherwise grow one graph forever). */
const MAX_DEFERRED_KERNELS = 50_000;
const DEFERRED_GRAPH = '(deferred graph)';

const ORT_TYPE: Partial<Record<tf.DataType, OrtFeed['type']>> = { float32: 'float32', int32: 'int32', bool: 'bool' };
const TF_DTYPE: Record<string, tf.DataType | undefined> = { float32: 'float32', int32: 'int32', bool: 'bool' };
const TYPED_ARRAY: Record<string, TypedArrayCtor> = {
  float32: Float32Array,
  int32: Int32Array,
  bool: Uint8Array,
};

function sizeOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}
