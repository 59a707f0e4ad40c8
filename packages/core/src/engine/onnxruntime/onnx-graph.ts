import onnxProto from 'onnx-proto';
import type { onnx as O } from 'onnx-proto';

const { onnx } = onnxProto;

/**
 * A tiny builder for single-kernel ONNX graphs (opset 17, IR 8). Graph inputs are named i0..in in
 * the order `input()` is called, outputs o0..om in the order `output()` is called, which is the
 * convention `OrtSession` runs them with. `inline()` writes a kernel's graph into a bigger one
 * (the model exporter, export/trace.ts, chains every kernel of a forward pass this way).
 */

export type OnnxDtype = 'float32' | 'int32' | 'bool' | 'int64' | 'uint8';

const ELEM_TYPE: Record<OnnxDtype, number> = {
  float32: onnx.TensorProto.DataType.FLOAT,
  uint8: onnx.TensorProto.DataType.UINT8,
  int32: onnx.TensorProto.DataType.INT32,
  int64: onnx.TensorProto.DataType.INT64,
  bool: onnx.TensorProto.DataType.BOOL,
};

export type AttrValue = { i: number } | { f: number } | { ints: number[] } | { floats: number[] } | { s: string };
export type Attrs = Record<string, AttrValue>;

export const OPSET = 17;

function valueInfo(name: string, dtype: OnnxDtype, shape?: readonly number[]): O.IValueInfoProto {
  const tensorType: O.TypeProto.ITensor = { elemType: ELEM_TYPE[dtype] };
  if (shape) tensorType.shape = { dim: shape.map((d) => ({ dimValue: d })) };
  return { name, type: { tensorType } };
}

function attribute(name: string, v: AttrValue): O.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  if ('i' in v) return { name, type: T.INT, i: v.i };
  if ('f' in v) return { name, type: T.FLOAT, f: v.f };
  if ('ints' in v) return { name, type: T.INTS, ints: v.ints };
  if ('floats' in v) return { name, type: T.FLOATS, floats: v.floats };
  return { name, type: T.STRING, s: new TextEncoder().encode(v.s) };
}

export class GraphBuilder {
  private readonly nodes: O.INodeProto[] = [];
  private readonly inputs: O.IValueInfoProto[] = [];
  private readonly outputs: O.IValueInfoProto[] = [];
  private readonly initializers: O.ITensorProto[] = [];
  private readonly inputNames = new Set<string>();
  private readonly renamed = new Map<string, string>();
  /** Output shapes as declared by `output()` (undefined: left to ORT's shape inference). */
  readonly outputShapes: (readonly number[] | undefined)[] = [];
  readonly outputTypes: OnnxDtype[] = [];
  private counter = 0;
  /** While `inline()` runs a kernel's build: the values its inputs stand for, and its outputs. */
  private inlined: { inputs: readonly string[]; used: number; outputs: string[]; label?: string } | null = null;

  /** Declares the next graph input (i0, i1, ...) and returns its name. */
  input(dtype: OnnxDtype, shape: readonly number[]): string {
    if (this.inlined) {
      const value = this.inlined.inputs[this.inlined.used++];
      if (value === undefined) throw new Error(`onnx-graph.ts inline: the kernel declares more than ${this.inlined.inputs.length} inputs`);
      return value;
    }
    const name = `i${this.inputs.length}`;
    this.inputs.push(valueInfo(name, dtype, shape));
    this.inputNames.add(name);
    return name;
  }

  /** Adds a node and returns its output names. */
  ops(opType: string, inputs: string[], attrs: Attrs = {}, numOutputs = 1, domain = ''): string[] {
    const outputs = Array.from({ length: numOutputs }, () => `t${this.counter++}`);
    const attribute_ = Object.entries(attrs).map(([k, v]) => attribute(k, v));
    const node: O.INodeProto = { opType, input: inputs, output: outputs, attribute: attribute_, domain };
    // Named after the kernel that wrote it, so ORT's profile of a big graph says whose time it is.
    if (this.inlined?.label) node.name = `${this.inlined.label}#${this.nodes.length}`;
    this.nodes.push(node);
    return outputs;
  }

  /** Adds a single-output node and returns its output name. */
  op(opType: string, inputs: string[], attrs: Attrs = {}, domain = ''): string {
    return this.ops(opType, inputs, attrs, 1, domain)[0];
  }

  /** An int64 constant (shapes, axes, slice bounds). */
  int64(values: readonly number[], dims: readonly number[] = [values.length]): string {
    const name = `c${this.counter++}`;
    const raw = new BigInt64Array(values.map((v) => BigInt(v)));
    this.initializers.push({
      name,
      dims: [...dims],
      dataType: ELEM_TYPE.int64,
      rawData: new Uint8Array(raw.buffer),
    });
    return name;
  }

  /** A float32 constant (a scalar by default). */
  float(values: number | ArrayLike<number>, dims?: readonly number[]): string {
    const name = `c${this.counter++}`;
    const arr = new Float32Array(typeof values === 'number' ? [values] : values);
    this.initializers.push({
      name,
      dims: dims ? [...dims] : typeof values === 'number' ? [] : [arr.length],
      dataType: ELEM_TYPE.float32,
      rawData: new Uint8Array(arr.buffer),
    });
    return name;
  }

  /** Marks `value` as the next graph output (o0, o1, ...). */
  output(value: string, dtype: OnnxDtype, shape?: readonly number[]): void {
    if (this.inlined) {
      this.inlined.outputs.push(value);
      return;
    }
    const name = `o${this.outputs.length}`;
    const source = this.renamed.get(value) ?? value;
    const producer = this.nodes.find((n) => n.output?.includes(source));
    if (!producer || this.inputNames.has(source) || this.renamed.has(value)) {
      this.nodes.push({ opType: 'Identity', input: [source], output: [name] });
    } else {
      // Rename the producer's output so no Identity node is needed.
      producer.output = producer.output!.map((o) => (o === value ? name : o));
      for (const n of this.nodes) n.input = n.input!.map((i) => (i === value ? name : i));
      this.renamed.set(value, name);
    }
    this.outputs.push(valueInfo(name, dtype, shape));
    this.outputShapes.push(shape);
    this.outputTypes.push(dtype);
  }

  /**
   * Runs a kernel's `build` inside this graph: its `input()` calls return `inputs` in order instead
   * of declaring graph inputs, and its `output()` values are returned instead of becoming outputs.
   */
  inline(build: (g: GraphBuilder) => void, inputs: readonly string[], label?: string): string[] {
    if (this.inlined) throw new Error('onnx-graph.ts inline: kernels do not nest');
    this.inlined = { inputs, used: 0, outputs: [], label };
    try {
      build(this);
      if (this.inlined.used !== inputs.length) {
        throw new Error(`onnx-graph.ts inline: the kernel declared ${this.inlined.used} inputs, ${inputs.length} were given`);
      }
      return this.inlined.outputs;
    } finally {
      this.inlined = null;
    }
  }

  get numOutputs(): number {
    return this.outputs.length;
  }

  /** ORT's contrib domains, and any other domain a node uses (native/ort-run.cc's custom ops: only its sessions know them). */
  private contribDomains(): string[] {
    const used = this.nodes.map((n) => n.domain ?? '').filter((d) => d !== '');
    return [...new Set(['com.microsoft', 'com.microsoft.nchwc', ...used])];
  }

  /** `model`: what a saved model file names itself (kernel graphs need none of it). */
  toBytes(saved: { producerName: string; graphName: string; metadata: Record<string, string> } | null = null): Uint8Array {
    const model = onnx.ModelProto.create({
      irVersion: 8,
      producerName: saved?.producerName ?? 'lvit-bench-onnxruntime-backend',
      metadataProps: Object.entries(saved?.metadata ?? {}).map(([key, value]) => ({ key, value })),
      opsetImport: [{ domain: '', version: OPSET }, ...this.contribDomains().map((domain) => ({ domain, version: 1 }))],
      graph: {
        name: saved?.graphName ?? 'kernel',
        node: this.nodes,
        input: this.inputs,
        output: this.outputs,
        initializer: this.initializers,
      },
    });
    return onnx.ModelProto.encode(model).finish();
  }
}
