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
 * A kernel may also bring a native implementation (`NativeRun`, native/*.cc), which runs on the
 * arrays of its inputs between graphs: the program is cut into stages, each its native kernels then
 * one graph. A native kernel joins the first stage after every graph that computes one of its
 * inputs (a filter layout of a parameter: stage 0, before any graph; a batch norm of a conv's output:
 * right after that conv's graph); an ONNX kernel joins the graph of the first stage where all its
 * inputs exist. A graph returns what later stages read, and an intermediate's array is recycled
 * after the last stage that reads it. A native kernel whose input needs a cast is written into the
 * graph like any other kernel.
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
 * (`concrete`), then the values it computes (`computed`), in recording order. The stages run in order.
 */
export interface FinishedProgram {
  key: string;
  concrete: External[];
  computed: ProgramValue[];
  stages: ProgramStage[];
}

/** Native kernels, then a graph (null where the stage has none) fed and returning slots. */
export interface ProgramStage {
  native: NativeStep[];
  graph: ProgramGraph | null;
  /** Computed slots no later stage reads and nobody holds: their arrays are recycled after this stage. */
  lastReadHere: number[];
}

export interface ProgramGraph {
  /** The program key and the stage: what its compiled session is cached by. */
  key: string;
  write: (g: GraphBuilder) => void;
  feeds: number[];
  outputs: number[];
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
   * outputs reach no alive value are left out (ORT runs every node it is given): tfjs's custom
   * gradients compute all inputs' gradients, e.g. a first conv's dx towards the image.
   */
  finish(alive: (dataId: object) => boolean): FinishedProgram {
    const live: number[] = [];
    for (let i = 0; i < this.ids.length; i++) if (alive(this.ids[i])) live.push(i);
    const key = `${this.signature.join('\n')}${PROGRAM_KEY_MARK}${live.join(',')}`;
    const needed = this.neededRecords(live);
    // Slots: the concrete arrays any kept kernel reads, then every computed value.
    const extUsed = [...new Set(needed.flatMap((rec) => rec.inputs.flatMap((r) => ('ext' in r ? [r.ext] : []))))].sort((a, b) => a - b);
    const extSlot = new Map(extUsed.map((e, i) => [e, i]));
    const slotOf = (r: InputRef | number): number => (typeof r === 'number' ? extUsed.length + r : 'ext' in r ? extSlot.get(r.ext)! : extUsed.length + r.pending);
    const slotSpec = (k: number): ValueSpec => (k < extUsed.length ? this.ext[extUsed[k]] : this.specs[k - extUsed.length]);
    const placed = this.stagesOf(needed);
    const isLive = new Set(live);
    // The last stage that reads each computed slot (its own stage where none does).
    const lastRead = new Map<number, number>();
    const stages: ProgramStage[] = [];
    const graphRecords: Recorded[][] = [];
    for (const { rec, stage, native } of placed) {
      for (const p of rec.outputs) lastRead.set(slotOf(p), stage); // recording order: produced before read
      for (const r of rec.inputs) if ('pending' in r) lastRead.set(slotOf(r), Math.max(lastRead.get(slotOf(r))!, stage));
      while (stages.length <= stage) stages.push({ native: [], graph: null, lastReadHere: [] }), graphRecords.push([]);
      if (native) stages[stage].native.push({ kernel: rec.kernel, run: rec.native!, inputs: rec.inputs.map(slotOf), outputs: rec.outputs.map(slotOf) });
      else graphRecords[stage].push(rec);
    }
    for (const [k, stage] of lastRead) if (!isLive.has(k - extUsed.length)) stages[stage].lastReadHere.push(k);
    for (let s = 0; s < stages.length; s++) {
      const records = graphRecords[s];
      if (records.length === 0) continue;
      const computedHere = new Set(records.flatMap((rec) => rec.outputs.map(slotOf)));
      const reads = new Set(records.flatMap((rec) => rec.inputs.map(slotOf)));
      const feeds = [...reads].filter((k) => !computedHere.has(k)).sort((a, b) => a - b);
      const outputs = [...computedHere].filter((k) => isLive.has(k - extUsed.length) || lastRead.get(k)! > s);
      stages[s].graph = { key: `${key}\n#${s}`, write: this.graphWriter(records, feeds, outputs, slotOf, slotSpec), feeds, outputs };
    }
    return { key, concrete: extUsed.map((e) => this.ext[e]), computed: this.ids.map((id, p) => ({ id, spec: this.specs[p], alive: isLive.has(p) })), stages };
  }

  /** Writes one stage's graph: its feeds as inputs, its kernels, its outputs. */
  private graphWriter(records: Recorded[], feeds: number[], outputs: number[], slotOf: (r: InputRef | number) => number, slotSpec: (k: number) => ValueSpec) {
    return (g: GraphBuilder): void => {
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
      for (const k of outputs) g.output(names.get(k)!, onnxType(slotSpec(k).dtype), slotSpec(k).shape);
    };
  }

  /**
   * The stage of each kept kernel, in recording order. A value computed by stage s's graph exists for
   * that graph and for native kernels from stage s + 1 on; one computed by a native kernel of stage
   * s, for everything of stage s on; every kernel runs as early as that allows. (As late as its
   * readers allow measured no faster on the full-size LViT-T step.) Native kernels need inputs
   * without a cast (a reshape only relabels an array); others are written into a graph.
   */
  private stagesOf(records: readonly Recorded[]): { rec: Recorded; stage: number; native: boolean }[] {
    const ready = new Map<number, { stage: number; byNative: boolean }>();
    const base = (r: InputRef) => ('ext' in r ? this.ext[r.ext] : this.specs[r.pending]);
    return records.map((rec) => {
      const native = rec.native !== undefined && rec.inputs.every((r) => base(r).dtype === r.dtype);
      let stage = 0;
      for (const r of rec.inputs) {
        if (!('pending' in r)) continue;
        const from = ready.get(r.pending)!;
        stage = Math.max(stage, native && !from.byNative ? from.stage + 1 : from.stage);
      }
      for (const p of rec.outputs) ready.set(p, { stage, byNative: native });
      return { rec, stage, native };
    });
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
