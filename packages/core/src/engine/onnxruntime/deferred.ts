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
 * A kernel may also bring a native implementation (`NativeRun`, native/*.cc). Where all its inputs
 * are concrete (a parameter's filter layout), it runs before the graph and its outputs are fed to it;
 * where nothing in the program reads its outputs (a parameter's gradient, read next by the
 * optimizer: the direct dW convolution), it runs after the graph on the arrays of its inputs, which
 * the graph then returns; otherwise it is written into the graph like any other kernel.
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

/**
 * What a flush runs. Every value the program touches has a slot: first the concrete arrays it reads
 * (`concrete`), then the values it computes (`computed`), in recording order. Native kernels run
 * `before` the graph, then the graph (fed and returning slots), then the native kernels `after` it.
 */
export interface FinishedProgram {
  key: string;
  write: (g: GraphBuilder) => void;
  concrete: External[];
  computed: ProgramValue[];
  before: NativeStep[];
  graph: { feeds: number[]; outputs: number[] };
  after: NativeStep[];
}

export interface ProgramValue {
  id: object;
  spec: ValueSpec;
  /** Someone holds it; else only the program's own kernels read it, and its array is recycled after. */
  alive: boolean;
}

export interface NativeStep {
  kernel: string;
  run: NativeRun;
  inputs: number[];
  outputs: number[];
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
    const { before, after } = this.nativeSteps(needed);
    const records = needed.filter((rec) => !before.has(rec) && !after.has(rec));
    // Slots: the concrete arrays any kept kernel reads, then every computed value.
    const extUsed = [...new Set(needed.flatMap((rec) => rec.inputs.flatMap((r) => ('ext' in r ? [r.ext] : []))))].sort((a, b) => a - b);
    const extSlot = new Map(extUsed.map((e, i) => [e, i]));
    const slotOf = (r: InputRef | number): number => (typeof r === 'number' ? extUsed.length + r : 'ext' in r ? extSlot.get(r.ext)! : extUsed.length + r.pending);
    const computedInGraph = new Set(records.flatMap((rec) => rec.outputs));
    const graphReads = new Set<number>();
    for (const rec of records) for (const r of rec.inputs) graphReads.add(slotOf(r));
    const feeds = [...graphReads].filter((k) => k < extUsed.length || !computedInGraph.has(k - extUsed.length)).sort((a, b) => a - b);
    const outputs = new Set(live.filter((p) => computedInGraph.has(p)).map((p) => slotOf(p)));
    for (const rec of after) for (const r of rec.inputs) if ('pending' in r && computedInGraph.has(r.pending)) outputs.add(slotOf(r));
    const graph = { feeds, outputs: [...outputs] };
    const slotSpec = (k: number): ValueSpec => (k < extUsed.length ? this.ext[extUsed[k]] : this.specs[k - extUsed.length]);
    const specs = this.specs;
    const write = (g: GraphBuilder): void => {
      const names = new Map<number, string>();
      for (const k of feeds) names.set(k, g.input(onnxType(slotSpec(k).dtype), slotSpec(k).shape));
      const valueOf = (r: InputRef): string => {
        const base = slotSpec(slotOf(r));
        const name = names.get(slotOf(r))!;
        const cast = base.dtype === r.dtype ? name : g.op('Cast', [name], { to: { i: ONNX_ELEM[onnxType(r.dtype)] } });
        return sameShape(base.shape, r.shape) ? cast : g.op('Reshape', [cast, g.int64(r.shape)]);
      };
      for (const rec of records) {
        const out = g.inline(rec.build, rec.inputs.map(valueOf), rec.kernel);
        if (out.length !== rec.outputs.length) {
          throw new Error(`onnxruntime/deferred.ts: kernel ${rec.kernel} wrote ${out.length} outputs, ${rec.outputs.length} were expected`);
        }
        rec.outputs.forEach((p, i) => names.set(slotOf(p), out[i]));
      }
      for (const k of graph.outputs) g.output(names.get(k)!, onnxType(slotSpec(k).dtype), slotSpec(k).shape);
    };
    const isLive = new Set(live);
    const step = (rec: Recorded): NativeStep => ({ kernel: rec.kernel, run: rec.native!, inputs: rec.inputs.map(slotOf), outputs: rec.outputs.map(slotOf) });
    return {
      key,
      write,
      concrete: extUsed.map((e) => this.ext[e]),
      computed: this.ids.map((id, p) => ({ id, spec: specs[p], alive: isLive.has(p) })),
      before: [...before].map(step),
      graph,
      after: [...after].map(step),
    };
  }

  /**
   * The kernels that run natively: before the graph those with a native implementation whose inputs
   * are all concrete; after it those whose outputs no kept kernel reads. Either way their inputs must
   * need no cast (a reshape only relabels an array).
   */
  private nativeSteps(records: readonly Recorded[]): { before: Set<Recorded>; after: Set<Recorded> } {
    const read = new Set<number>();
    for (const rec of records) for (const r of rec.inputs) if ('pending' in r) read.add(r.pending);
    const base = (r: InputRef) => ('ext' in r ? this.ext[r.ext] : this.specs[r.pending]);
    const native = records.filter((rec) => rec.native && rec.inputs.every((r) => base(r).dtype === r.dtype));
    const before = new Set(native.filter((rec) => rec.inputs.every((r) => 'ext' in r)));
    const after = new Set(native.filter((rec) => !before.has(rec) && !rec.outputs.some((p) => read.has(p))));
    return { before, after };
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
