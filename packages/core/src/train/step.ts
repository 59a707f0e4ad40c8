import * as tf from '@tensorflow/tfjs';
import type { Rng } from '../rng.js';
import type { SegmentationModel } from '../types.js';
import { weightedDiceBCE } from './losses.js';
import type { Adam } from './optim.js';
import { BatchInfo, createRunState, LossTerm, SUPERVISED_TERM } from './state.js';

export interface TrainStepArgs {
  model: SegmentationModel;
  optimizer: Adam;
  /** [B,H,W,C] in [0,1]. */
  images: tf.Tensor4D;
  /** [B,H,W,1] in {0,1}; null for an unlabeled batch (then only extra terms drive the step). */
  masks: tf.Tensor4D | null;
  /** [B,T,D] or null. */
  text: tf.Tensor3D | null;
  /** Dropout randomness. */
  rng: Rng;
  extraTerms?: LossTerm[];
  batchInfo?: BatchInfo;
  /** Also read back the step's prediction ([B*H*W], train mode, before the update). */
  keepPrediction?: boolean;
}

export interface TrainStepResult {
  /** The weighted total that was minimised. */
  loss: number;
  /** Each term's unweighted value by name; the supervised loss is `diceBCE`. */
  terms: Record<string, number>;
  /** With `keepPrediction`: the forward's output, [B*H*W] probabilities. */
  prediction?: Float32Array;
}

function termApplies(term: LossTerm, labeled: boolean): boolean {
  return term.appliesTo === 'all' || (term.appliesTo === 'labeled') === labeled;
}

/** A finished step's tensors: the loss and terms stacked, the kept prediction; `dispose` frees all. */
interface StepOutputs {
  stacked: tf.Tensor1D;
  kept: tf.Tensor | null;
  termNames: string[];
  dispose: () => void;
}

/**
 * One optimisation step: forward in train mode, loss, gradients of every trainable parameter,
 * Adam update. All tensors are tidied; only the loss scalars are read back (one sync).
 */
export function trainStep(args: TrainStepArgs): TrainStepResult {
  const s = runStep(args);
  try {
    return readResult(s, s.stacked.dataSync(), s.kept?.dataSync());
  } finally {
    s.dispose();
  }
}

/**
 * The same step, reading the loss back asynchronously: for backends that cannot read GPU data
 * synchronously (tfjs-webgpu in Node, engine/webgpu-adapter.ts), as the GPU checks time them.
 */
export async function trainStepAsync(args: TrainStepArgs): Promise<TrainStepResult> {
  const s = runStep(args);
  try {
    return readResult(s, await s.stacked.data(), s.kept ? await s.kept.data() : undefined);
  } finally {
    s.dispose();
  }
}

function readResult(s: StepOutputs, values: tf.backend_util.TypedArray, prediction: tf.backend_util.TypedArray | undefined): TrainStepResult {
  const out: Record<string, number> = {};
  s.termNames.forEach((n, i) => (out[n] = values[i + 1]));
  return { loss: values[0], terms: out, ...(prediction ? { prediction: (prediction as Float32Array).slice() } : {}) };
}

function runStep(args: TrainStepArgs): StepOutputs {
  const { model, optimizer, images, masks, text, rng } = args;
  const info = args.batchInfo ?? { ids: [], labeled: masks !== null, pixelMaps: [], state: createRunState() };
  if (info.labeled && !masks) throw new Error('train/step.ts trainStep: a labeled batch needs masks');
  const terms = (args.extraTerms ?? []).filter((t) => termApplies(t, info.labeled));
  const params = model.namedParameters();
  const nameOfVariable = new Map(params.map(([name, v]) => [v.name, name]));

  const termNames: string[] = [];
  const termValues: tf.Scalar[] = [];
  let kept: tf.Tensor | null = null;
  const record = (name: string, value: tf.Scalar): void => {
    if (value.rank !== 0) throw new Error(`train/step.ts: loss term '${name}' returned shape ${JSON.stringify(value.shape)}, not a scalar`);
    termNames.push(name);
    termValues.push(tf.keep(value));
  };

  let computed: { value: tf.Scalar; grads: tf.NamedTensorMap };
  try {
    computed = tf.variableGrads(() => {
      const pred = model.forward(images, text, { training: true, rng });
      if (args.keepPrediction) kept = tf.keep(pred);
      const parts: tf.Scalar[] = [];
      if (info.labeled && masks) {
        const supervised = weightedDiceBCE(pred, masks);
        record(SUPERVISED_TERM, supervised);
        parts.push(supervised);
      }
      for (const term of terms) {
        const v = term.compute({ pred, images, masks: info.labeled ? masks : null, text, ids: info.ids, pixelMaps: info.pixelMaps, state: info.state });
        record(term.name, v);
        parts.push(tf.mul(v, term.weight));
      }
      if (parts.length === 0) throw new Error('train/step.ts trainStep: no loss applies to this batch (unlabeled batch without an unlabeled term)');
      return parts.reduce((a, b) => tf.add(a, b)) as tf.Scalar;
    }, params.map(([, v]) => v));
  } catch (err) {
    tf.dispose([...termValues, ...(kept ? [kept] : [])]);
    throw err;
  }
  const { value, grads } = computed;
  const dispose = () => tf.dispose([value, ...termValues, ...Object.values(grads), ...(kept ? [kept] : [])]);
  try {
    const named: Record<string, tf.Tensor> = {};
    for (const [varName, g] of Object.entries(grads)) named[nameOfVariable.get(varName)!] = g;
    optimizer.step(named);
    const stacked = tf.stack([value, ...termValues]) as tf.Tensor1D;
    return { stacked, kept, termNames, dispose: () => (stacked.dispose(), dispose()) };
  } catch (err) {
    dispose();
    throw err;
  }
}
