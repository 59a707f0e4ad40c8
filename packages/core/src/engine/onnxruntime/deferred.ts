import type * as tf from '@tensorflow/tfjs';
import type { GraphBuilder, OnnxDtype } from './onnx-graph.js';
import type { OrtTypedArray } from './ort-binding.js';

/**
 * Deferred execution: the kernels of a step are recorded instead of run, and run together as one
 * ONNX graph when a value is needed (a read, a cpu kernel, a kernel ORT cannot shape-infer).
 *
 * Why: run one by one, every ORT kernel costs a binding call, feed/fetch set-up and a copy of each
 * output by onnxruntime-node, and every intermediate is a JS array; between the convolutions of a
 * training step that is most of the time (issue 15). As one graph, only the values still alive at the
 * flush leave ORT (new parameters and moments, the loss, activations a caller kept), and ORT plans
 * the intermediates' memory itself.
 *
 * A recorded program is keyed by its structure: each kernel's cache key and where each of its inputs
 * comes from (an earlier kernel's output, or a concrete tensor fed from JS), plus which outputs are
 * alive. A training step repeats the same structure, so its graph compiles once and is reused.
 *
 * A kernel may also bring a native implementation (`NativeRun`, e.g. the direct dW convolution in
 * native/conv-filter.cc). Where nothing in the program reads its outputs (a parameter's gradient,
 * read next by the optimizer), it runs after the graph on the arrays of its inputs, which the graph
 * then returns; otherwise it is written into the graph like any other kernel.
 */

/** Separates a program key's kernels from its alive-output list; no kernel key contains it. */
export const PROGRAM_KEY_MARK = '\n=> ';

export type KernelBuild = (g: GraphBuilder) => void;

/** A kernel's native implementation: reads its inputs' arrays and fills its outputs' (of the recorded shapes). */
export type NativeRun = (inputs: OrtTypedArray[], outputs: OrtTypedArray[]) => void;

export interface ValueSpec {
  shape: number[];
  dtype: tf.DataType;
}

/** A concrete tensor a recorded kernel reads: fed to the graph from its array. */
interface External {
  values: OrtTypedArray;
  shape: number[];
  dtype: tf.DataType;
}

/**
 * Where a kernel input comes from, with the shape and dtype the kernel sees: a Reshape relabels a
 * recorded value's shape, and the cpu Cast from bool or int32 to float32 relabels its dtype only.
 */
type InputRef = ({ ext: number } | { pending: number }) & { shape: number[]; dtype: tf.DataType };

interface Recorded {
  kernel: string;
  build: KernelBuild;
  inputs: InputRef[];
  /** Pending indices of this kernel's outputs, in order. */
  outputs: number[];
  native?: NativeRun;
}

/** What a flush runs: the graph's key, how to write it, its feeds, which pending values it returns, and the native kernels after it. */
export interface FinishedProgram {
  key: string;
  write: (g: GraphBuilder) => void;
  feeds: External[];
  /** The graph's outputs in order (o0, o1, ...): alive values, then values only native kernels read. */
  outputs: ProgramOutput[];
  /** Native kernels to run after the graph, in recording order. */
  native: NativeStep[];
}

export interface ProgramOutput {
  id: object;
  spec: ValueSpec;
  /** Someone holds it (else it is an input of a native kernel only, and its array is recycled after). */
  alive: boolean;
}

export interface NativeStep {
  kernel: string;
  run: NativeRun;
  /** Each input: a concrete array, or the index of a graph output. */
  inputs: ({ values: OrtTypedArray } | { output: number })[];
  outputs: ProgramOutput[];
}

export class DeferredProgram {
  private readonly records: Recorded[] = [];
  private readonly ext: External[] = [];
  private readonly extOf = new Map<object, number>();
  /** Pending values by dataId: their index (creation order) into `ids` and `specs`. */
  private readonly pending = new Map<object, number>();
  private readonly ids: object[] = [];
  private readonly specs: ValueSpec[] = [];
  private readonly signature: string[] = [];

  get size(): number {
    return this.records.length;
  }

  /** Every recorded output's dataId, alive or not. */
  pendingIds(): readonly object[] {
    return this.ids;
  }

  isPending(dataId: object): boolean {
    return this.pending.has(dataId);
  }

  /**
   * Records one kernel. `concrete(t)` returns the array of a tensor that is not pending (it must stay
   * untouched until the flush: the backend holds back recycling while a program is open).
   * `newPending(spec)` creates the output tensor's storage.
   */
  record(
    kernel: string,
    key: string,
    build: KernelBuild,
    inputs: readonly tf.TensorInfo[],
    outputSpecs: readonly ValueSpec[],
    concrete: (t: tf.TensorInfo) => OrtTypedArray,
    newPending: (spec: ValueSpec) => tf.TensorInfo,
    native?: NativeRun,
  ): tf.TensorInfo[] {
    const refs: InputRef[] = [];
    let sig = native ? `${key}|native` : key;
    for (const t of inputs) {
      const p = this.pending.get(t.dataId);
      if (p !== undefined) {
        refs.push({ pending: p, shape: t.shape, dtype: t.dtype });
        sig += `|p${p}${relabel(this.specs[p], t)}`;
        continue;
      }
      let e = this.extOf.get(t.dataId);
      if (e === undefined) {
        e = this.ext.length;
        this.ext.push({ values: concrete(t), shape: t.shape, dtype: t.dtype });
        this.extOf.set(t.dataId, e);
        sig += `|E${t.dtype[0]}${t.shape.join('x')}`;
      }
      refs.push({ ext: e, shape: t.shape, dtype: t.dtype });
      sig += `|e${e}${relabel(this.ext[e], t)}`;
    }
    const outputs: tf.TensorInfo[] = [];
    const indices: number[] = [];
    for (const spec of outputSpecs) {
      const info = newPending(spec);
      const index = this.ids.length;
      this.pending.set(info.dataId, index);
      this.ids.push(info.dataId);
      this.specs.push(spec);
      indices.push(index);
      outputs.push(info);
    }
    this.records.push({ kernel, build, inputs: refs, outputs: indices, native });
    this.signature.push(sig);
    return outputs;
  }

  /**
   * Closes the program: `alive(dataId)` tells which pending values someone still holds. Kernels whose
   * outputs reach no alive value are left out of the graph (ORT runs every node it is given): tfjs's
   * custom gradients compute all inputs' gradients, e.g. a first conv's dx towards the image.
   */
  finish(alive: (dataId: object) => boolean): FinishedProgram {
    const live: number[] = [];
    for (let i = 0; i < this.ids.length; i++) if (alive(this.ids[i])) live.push(i);
    const key = `${this.signature.join('\n')}${PROGRAM_KEY_MARK}${live.join(',')}`;
    const needed = this.neededRecords(live);
    const after = this.nativeAfterGraph(needed);
    const records = needed.filter((rec) => !after.has(rec));
    const graphOutputs = this.graphOutputs(live, records, after);
    const used = new Set<number>();
    for (const rec of records) for (const r of rec.inputs) if ('ext' in r) used.add(r.ext);
    const feedIndex = [...used].sort((a, b) => a - b);
    const ext = this.ext;
    const specs = this.specs;
    const write = (g: GraphBuilder): void => {
      const extNames: string[] = [];
      for (const e of feedIndex) extNames[e] = g.input(onnxType(ext[e].dtype), ext[e].shape);
      const values: string[] = [];
      const valueOf = (r: InputRef): string => {
        const [name, base] = 'ext' in r ? [extNames[r.ext], ext[r.ext]] : [values[r.pending], specs[r.pending]];
        const cast = base.dtype === r.dtype ? name : g.op('Cast', [name], { to: { i: ONNX_ELEM[onnxType(r.dtype)] } });
        return sameShape(base.shape, r.shape) ? cast : g.op('Reshape', [cast, g.int64(r.shape)]);
      };
      for (const rec of records) {
        const names = g.inline(rec.build, rec.inputs.map(valueOf), rec.kernel);
        if (names.length !== rec.outputs.length) {
          throw new Error(`onnxruntime/deferred.ts: kernel ${rec.kernel} wrote ${names.length} outputs, ${rec.outputs.length} were expected`);
        }
        rec.outputs.forEach((p, i) => (values[p] = names[i]));
      }
      for (const p of graphOutputs) g.output(values[p], onnxType(specs[p].dtype), specs[p].shape);
    };
    const isLive = new Set(live);
    const output = (p: number): ProgramOutput => ({ id: this.ids[p], spec: specs[p], alive: isLive.has(p) });
    const outputIndex = new Map(graphOutputs.map((p, i) => [p, i]));
    const native = [...after].map((rec) => ({
      kernel: rec.kernel,
      run: rec.native!,
      inputs: rec.inputs.map((r) => ('ext' in r ? { values: ext[r.ext].values } : { output: outputIndex.get(r.pending)! })),
      outputs: rec.outputs.map(output),
    }));
    return { key, write, feeds: feedIndex.map((e) => ext[e]), outputs: graphOutputs.map(output), native };
  }

  /**
   * The kernels that run natively after the graph: those with a native implementation whose outputs
   * no kept kernel reads, and whose inputs need no cast (a reshape only relabels an array).
   */
  private nativeAfterGraph(records: readonly Recorded[]): Set<Recorded> {
    const read = new Set<number>();
    for (const rec of records) for (const r of rec.inputs) if ('pending' in r) read.add(r.pending);
    const base = (r: InputRef) => ('ext' in r ? this.ext[r.ext] : this.specs[r.pending]);
    return new Set(records.filter((rec) => rec.native && !rec.outputs.some((p) => read.has(p)) && rec.inputs.every((r) => base(r).dtype === r.dtype)));
  }

  /** The graph's outputs: the alive values it computes, then the recorded inputs of the native kernels after it. */
  private graphOutputs(live: readonly number[], records: readonly Recorded[], after: ReadonlySet<Recorded>): number[] {
    const computed = new Set(records.flatMap((rec) => rec.outputs));
    const outputs = new Set(live.filter((p) => computed.has(p)));
    for (const rec of after) for (const r of rec.inputs) if ('pending' in r) outputs.add(r.pending);
    return [...outputs];
  }

  /** The recorded kernels an alive value depends on, in recording order. */
  private neededRecords(live: readonly number[]): Recorded[] {
    const needed = new Uint8Array(this.ids.length);
    for (const p of live) needed[p] = 1;
    const kept: Recorded[] = [];
    for (let k = this.records.length - 1; k >= 0; k--) {
      const rec = this.records[k];
      if (!rec.outputs.some((p) => needed[p])) continue;
      kept.push(rec);
      for (const r of rec.inputs) if ('pending' in r) needed[r.pending] = 1;
    }
    return kept.reverse();
  }
}

/** Signature part for an input seen with another shape or dtype than its value has ('' if none). */
function relabel(base: ValueSpec, t: tf.TensorInfo): string {
  const shape = sameShape(base.shape, t.shape) ? '' : `:${t.shape.join('x')}`;
  return base.dtype === t.dtype ? shape : `${shape}:${t.dtype}`;
}

const ONNX_ELEM: Record<OnnxDtype, number> = { float32: 1, uint8: 2, int32: 6, int64: 7, bool: 9 };

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function onnxType(dtype: tf.DataType): OnnxDtype {
  if (dtype === 'float32' || dtype === 'int32' || dtype === 'bool') return dtype;
  throw new Error(`onnxruntime/deferred.ts: dtype ${dtype} cannot be part of an ORT graph`);
}
