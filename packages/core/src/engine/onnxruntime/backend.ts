import type * as tf from '@tensorflow/tfjs';
import { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import { BufferPool, PooledArray } from './buffer-pool.js';
import { setNchwcEnabled } from './kernels/nhwc-conv.js';
import { GraphBuilder } from './onnx-graph.js';
import { OrtDataType, OrtFeed, OrtGpuFeed, OrtResult, OrtSession, OrtSessionOptions } from './ort-binding.js';
import { recordKernel, recordSessionCreate } from './stats.js';

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

  constructor(
    private ortOptions: OrtSessionOptions,
    private readonly maxSessions = 4000,
  ) {
    super();
    setNchwcEnabled(ortOptions.executionProvider === 'cpu');
  }

  get options(): Readonly<OrtSessionOptions> {
    return this.ortOptions;
  }

  /** New execution provider or thread count: later kernels compile new sessions with them. */
  setOrtOptions(opts: OrtSessionOptions): void {
    if (JSON.stringify(opts) === JSON.stringify(this.ortOptions)) return;
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
   */
  runGraph(kernel: string, key: string, build: (g: GraphBuilder) => void, inputs: tf.TensorInfo[]): tf.TensorInfo[] {
    let session = this.sessions.get(key);
    if (!session) session = this.createSession(kernel, key, build);
    const feeds: Record<string, OrtFeed | OrtGpuFeed> = {};
    for (let i = 0; i < inputs.length; i++) feeds[`i${i}`] = this.feedOf(inputs[i]);
    const results = session.run(feeds, this.alloc);
    const outputs = results.map((r) => this.adopt(r));
    this.tracer?.ortKernel(build, inputs, outputs);
    return outputs;
  }

  /** Whether a graph's outputs stay on the GPU: webgpu EP, `gpuBufferOutputs`, float32 outputs only. */
  private keepsOnGpu(g: GraphBuilder): boolean {
    const o = this.ortOptions;
    return o.executionProvider === 'webgpu' && o.gpuBufferOutputs === true && g.outputTypes.every((t) => t === 'float32');
  }

  private createSession(kernel: string, key: string, build: (g: GraphBuilder) => void, cpuOutputs = false): OrtSession {
    const t0 = performance.now();
    const g = new GraphBuilder();
    build(g);
    const session = new OrtSession(g.toBytes(), this.ortOptions, g.numOutputs, g.outputShapes, !cpuOutputs && this.keepsOnGpu(g));
    if (this.sessions.size >= this.maxSessions) {
      // Shapes keep changing (e.g. evaluation at many sizes): drop the oldest sessions.
      const oldest = this.sessions.keys().next().value as string;
      this.sessions.get(oldest)!.dispose();
      this.sessions.delete(oldest);
    }
    this.sessions.set(key, session);
    recordSessionCreate(kernel, performance.now() - t0);
    return session;
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
    const info = this.makeTensorInfo(shape, dtype, r.data as PooledArray);
    this.pool.own(r.data as PooledArray, info.dataId);
    return info;
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
    for (const t of outputs) this.pool.noteAlias(this.data.get(t.dataId)?.values, t.dataId);
    this.tracer?.cpuKernel(kernel, inputs, outputs);
  }

  override readSync(dataId: object): tf.backend_util.BackendValues {
    this.download(dataId);
    // dataSync()/arraySync() hand this very array to user code, which may keep it after dispose.
    this.pool.escape(this.data.get(dataId)?.values);
    return super.readSync(dataId);
  }

  override disposeData(dataId: object, force = false): boolean {
    const values = this.data.get(dataId)?.values;
    const released = super.disposeData(dataId, force);
    if (released && values && !this.data.has(dataId)) this.pool.release(values, dataId);
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
    for (const id of [...this.onGpu.keys()]) this.releaseGpu(id);
    for (const s of this.sessions.values()) s.dispose();
    this.sessions.clear();
    this.pool.clear();
    super.dispose();
  }
}

const ORT_TYPE: Partial<Record<tf.DataType, OrtFeed['type']>> = { float32: 'float32', int32: 'int32', bool: 'bool' };
const TF_DTYPE: Record<string, tf.DataType | undefined> = { float32: 'float32', int32: 'int32', bool: 'bool' };
const TYPED_ARRAY: Record<string, Float32ArrayConstructor | Int32ArrayConstructor | Uint8ArrayConstructor> = {
  float32: Float32Array,
  int32: Int32Array,
  bool: Uint8Array,
};
