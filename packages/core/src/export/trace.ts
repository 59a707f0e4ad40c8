import * as tf from '@tensorflow/tfjs';
import { OnnxruntimeBackend, type KernelTracer } from '../engine/onnxruntime/backend.js';
import { setNchwcBlockSize, nchwcBlockSize } from '../engine/onnxruntime/kernels/nhwc-conv.js';
import { setOrtKernelThresholds } from '../engine/onnxruntime/kernels/util.js';
import { GraphBuilder } from '../engine/onnxruntime/onnx-graph.js';

/**
 * Turns one forward pass into one ONNX graph, built from the same per-kernel graphs the
 * onnxruntime training engine runs (no second graph builder): while tracing, every kernel the
 * forward calls is also written, through `GraphBuilder.inline`, into a single graph whose inputs are
 * the forward's inputs. Tensors no traced value flows into (weights, BatchNorm statistics, anything
 * computed from them alone) become initializers holding their values.
 *
 * For the trace to be the whole computation, every kernel on the input's path must run in ORT:
 * the size thresholds that keep small ops in the cpu kernels are set to 0, and a cpu kernel that
 * still sees a traced input is an error naming it (except Reshape/Identity, which keep the data and
 * only relabel its shape; the graph gets a Reshape where a consumer sees the new shape).
 * Convolutions take the plain ONNX Conv path, not the machine-specific com.microsoft.nchwc ops, so
 * the file runs on any onnxruntime (node, web/wasm).
 */

export interface TraceOutcome {
  /** The serialised model: graph inputs i0 (image) [, i1 (text)], output o0. */
  bytes: Uint8Array;
  /** The tfjs forward's output on the trace inputs (what the graph must reproduce). */
  output: Float32Array;
  outputShape: number[];
  /** Kernel graphs written into the model. */
  kernels: number;
}

export interface SavedModelInfo {
  producerName: string;
  graphName: string;
  metadata: Record<string, string>;
}

/** Follows the kernels of one forward pass into a GraphBuilder. */
class GraphTracer implements KernelTracer {
  readonly g = new GraphBuilder();
  kernels = 0;
  /** Traced values by tensor data: the graph value holding it and the shape it was written with. */
  private readonly traced = new Map<object, { name: string; shape: number[] }>();
  private readonly constants = new Map<object, { name: string; shape: number[] }>();

  constructor(private readonly backend: OnnxruntimeBackend) {}

  declareInput(t: tf.Tensor): void {
    this.traced.set(t.dataId, { name: this.g.input('float32', t.shape), shape: t.shape });
  }

  /** The graph value of a kernel input: a traced value (reshaped if relabelled) or a constant. */
  valueOf(t: tf.TensorInfo): string {
    const v = this.traced.get(t.dataId);
    if (v) return tf.util.arraysEqual(v.shape, t.shape) ? v.name : this.g.op('Reshape', [v.name, this.g.int64(t.shape)]);
    if (t.dtype !== 'float32') throw new Error(`export/trace.ts: a ${t.dtype} constant [${t.shape.join(',')}] feeds a kernel; only float32 constants are exported`);
    const cached = this.constants.get(t.dataId);
    if (cached && tf.util.arraysEqual(cached.shape, t.shape)) return cached.name;
    const name = this.g.float(this.backend.readSync(t.dataId) as Float32Array, t.shape);
    this.constants.set(t.dataId, { name, shape: t.shape });
    return name;
  }

  ortKernel(build: (g: GraphBuilder) => void, inputs: readonly tf.TensorInfo[], outputs: readonly tf.TensorInfo[]): void {
    if (!inputs.some((t) => this.traced.has(t.dataId))) return; // computed from constants alone: a constant itself
    const names = this.g.inline(build, inputs.map((t) => this.valueOf(t)));
    outputs.forEach((t, i) => this.traced.set(t.dataId, { name: names[i], shape: t.shape }));
    this.kernels++;
  }

  cpuKernel(kernel: string, inputs: tf.NamedTensorInfoMap, outputs: readonly tf.TensorInfo[]): void {
    const fromInput = Object.values(inputs).some((t) => t && this.traced.has(t.dataId));
    if (!fromInput) return;
    if (outputs.every((t) => this.traced.has(t.dataId))) return; // Reshape / Identity: same data, relabelled
    throw new Error(
      `export/trace.ts: kernel ${kernel} ran in the cpu backend on a value that depends on the model input, so the exported graph would miss it; it needs an ORT kernel (engine/onnxruntime/kernels)`,
    );
  }
}

/**
 * Runs `forward` once on the active onnxruntime backend and returns it as a saved ONNX model.
 * `inputs` are the graph inputs in order (their values only matter for `output`).
 */
export function traceForwardToOnnx(forward: (...inputs: tf.Tensor[]) => tf.Tensor, inputs: readonly tf.Tensor[], saved: SavedModelInfo): TraceOutcome {
  const backend = tf.backend();
  if (!(backend instanceof OnnxruntimeBackend)) {
    throw new Error(`export/trace.ts: tracing needs the onnxruntime backend active (initBackend('onnxruntime')); the active one is ${tf.getBackend()}`);
  }
  const tracer = new GraphTracer(backend);
  for (const t of inputs) tracer.declareInput(t);
  const thresholds = setOrtKernelThresholds({ elements: 0, broadcast: 0, reduce: 0, matmulMacs: 0, cpuViews: false });
  const blockSize = nchwcBlockSize();
  setNchwcBlockSize(null);
  backend.tracer = tracer;
  let out: tf.Tensor | undefined;
  try {
    out = tf.tidy(() => forward(...inputs));
    tracer.g.output(tracer.valueOf(out), 'float32', out.shape);
    return { bytes: tracer.g.toBytes(saved), output: Float32Array.from(out.dataSync() as Float32Array), outputShape: out.shape, kernels: tracer.kernels };
  } finally {
    backend.tracer = null;
    out?.dispose();
    setOrtKernelThresholds(thresholds);
    setNchwcBlockSize(blockSize);
  }
}
