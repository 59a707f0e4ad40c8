import * as tf from '@tensorflow/tfjs';
import type { EpiConfig, SegmentationModel, UnlabeledSplit } from '../types.js';
import { checkTextInput, disposeBatch, makeImageBatch, TextInput } from './batch.js';
import { weightedDiceBCE } from './losses.js';
import type { TrainHooks } from './loop.js';
import { remapPixels, unmapPixels } from './pixel-map.js';
import type { LossTerm, RunState } from './state.js';

/**
 * Exponential Pseudo-label Iteration (EPI, LVIT.md §2.2, SEMI.md), stage 2 of LViT's
 * semi-supervised recipe. Stage 1 is the supervised prototype on the labelled subset; stage 2
 * starts from its weights, gives every unlabelled image the prototype's prediction as its first
 * pseudo-label P_0, and trains on all images: Dice+BCE against the ground truth for labelled
 * batches, against the pseudo-label for unlabelled ones. Each pseudo-label is an exponential
 * moving average of the model's predictions,
 *
 *   P_t = beta * P_{t-1} + (1 - beta) * p_t,   beta = 0.99,
 *
 * kept per image in the run state (`state.perImage`, keyed by image id), so it is checkpointed
 * with the weights and a resumed run continues bit-identically.
 *
 * Alignment with augmentation: P is stored in the image's own (un-augmented) frame. A batch's
 * targets are P moved through the same pixel map as the image; with `update: 'iteration'` the
 * prediction is mapped back before the EMA, and pixels a rotation moved out of view keep their
 * old value.
 *
 * Defaults and why (the paper leaves each open):
 * - target 'soft': the EMA of probabilities is used as it is, as the one public re-implementation
 *   of this EMA does (UYTwlight/LViT-semi-final); 'binary' thresholds it at 0.5.
 * - update 'iteration': "iteration" is the paper's word for t. Each image is in one batch per
 *   epoch, so both modes update every image once per epoch; 'iteration' uses the train-mode
 *   prediction of the step that saw it, 'epoch' an extra eval-mode pass at the epoch's end.
 * - weight 1: the pseudo-label term weighs as the supervised term does (the official
 *   `WeightedDiceBCE_unsup` leftover adds Dice and BCE at their default weights).
 * With beta = 0.99 an image's pseudo-label moves by 1 % per update: over the reduced profiles'
 * few epochs it stays close to the prototype's prediction (0.99^30 = 0.74).
 */

export const DEFAULT_EPI: EpiConfig = Object.freeze({ beta: 0.99, target: 'soft', update: 'iteration', weight: 1 });

/** The name under which the pseudo-label loss appears in per-term records. */
export const PSEUDO_TERM = 'pseudo';

export function checkEpiConfig(config: EpiConfig): void {
  const fail = (why: string) => {
    throw new Error(`train/epi.ts: ${why}`);
  };
  if (!(config.beta >= 0 && config.beta < 1)) fail(`beta must be in [0, 1), got ${config.beta}`);
  if (config.target !== 'soft' && config.target !== 'binary') fail(`target must be 'soft' or 'binary', got '${config.target}'`);
  if (!['iteration', 'epoch', 'mean-teacher'].includes(config.update)) fail(`update must be 'iteration', 'epoch' or 'mean-teacher', got '${config.update}'`);
  if (!(config.weight > 0)) fail(`weight must be > 0, got ${config.weight}`);
}

/** In place: prev = beta * prev + (1 - beta) * pred, only where `hit` is 1 (everywhere without it). */
export function emaUpdate(prev: Float32Array, pred: Float32Array, beta: number, hit?: Uint8Array): void {
  if (pred.length !== prev.length) throw new Error(`train/epi.ts emaUpdate: ${pred.length} predictions for a ${prev.length}-pixel pseudo-label`);
  for (let i = 0; i < prev.length; i++) {
    if (!hit || hit[i]) prev[i] = beta * prev[i] + (1 - beta) * pred[i];
  }
}

/** What the loss trains against: the EMA itself, or the EMA thresholded at 0.5. */
export function pseudoTarget(ema: Float32Array, target: EpiConfig['target']): Float32Array {
  return target === 'soft' ? ema : ema.map((v) => (v >= 0.5 ? 1 : 0));
}

/** Eval-mode predictions of every unlabelled image in its own frame, [H*W] each. */
export async function predictUnlabeled(
  model: SegmentationModel,
  split: UnlabeledSplit,
  opts: TextInput & { batchSize: number },
): Promise<Map<string, Float32Array>> {
  checkTextInput(model.usesText, opts, 'predictUnlabeled');
  const pixels = split.height * split.width;
  const out = new Map<string, Float32Array>();
  for (let start = 0; start < split.size; start += opts.batchSize) {
    const samples = [];
    for (let i = start; i < Math.min(start + opts.batchSize, split.size); i++) samples.push(split.image(i));
    const batch = makeImageBatch(samples, split, model.usesText, opts);
    try {
      const pred = tf.tidy(() => model.forward(batch.images, batch.text, { training: false })); // [B,H,W,1]
      const probs = (await pred.data()) as Float32Array;
      pred.dispose();
      samples.forEach((s, i) => out.set(s.id, probs.slice(i * pixels, (i + 1) * pixels)));
    } finally {
      disposeBatch(batch);
    }
  }
  return out;
}

function pseudoLabelOf(state: RunState, id: string): Float32Array {
  const p = state.perImage.get(id);
  if (!p) throw new Error(`train/epi.ts: unlabelled image '${id}' has no pseudo-label (EPI hooks not installed?)`);
  return p;
}

/** The pseudo-label term: weightedDiceBCE(pred, target(P) in the batch's augmented frame). */
function pseudoLabelTerm(config: EpiConfig): LossTerm {
  return {
    name: PSEUDO_TERM,
    weight: config.weight,
    appliesTo: 'unlabeled',
    compute: ({ pred, ids, pixelMaps, state }) => {
      const [b, h, w] = pred.shape;
      const targets = new Float32Array(b * h * w);
      ids.forEach((id, i) => targets.set(remapPixels(pseudoTarget(pseudoLabelOf(state, id), config.target), pixelMaps[i], 1), i * h * w));
      return weightedDiceBCE(pred, tf.tensor4d(targets, [b, h, w, 1]));
    },
  };
}

export interface Epi {
  /** Add to the loop's `extraTerms`. */
  term: LossTerm;
  /** Pass as the loop's `hooks`: they seed P_0 and run the EMA updates. */
  hooks: TrainHooks;
  /** Release what EPI holds (the mean teacher's model). */
  dispose(): void;
}

export interface EpiInput extends TextInput {
  batchSize: number;
  /** A fresh model of the trained architecture: needed by 'mean-teacher' only. */
  createTeacher?: () => SegmentationModel;
}

/**
 * EPI for one stage-2 run over `unlabeled`. The model handed to the loop must hold the
 * prototype's weights: P_0 is its eval-mode prediction, taken at the first epoch's start for
 * every image the (possibly resumed) run state has no pseudo-label for.
 */
export function createEpi(config: EpiConfig, unlabeled: UnlabeledSplit, input: EpiInput): Epi {
  checkEpiConfig(config);
  if (config.update === 'mean-teacher') return createMeanTeacher(config, input);
  const pixels = unlabeled.height * unlabeled.width;
  const hooks: TrainHooks = {
    onEpochStart: async ({ model, state }) => {
      if (unlabeled.ids.every((id) => state.perImage.has(id))) return;
      for (const [id, p] of await predictUnlabeled(model, unlabeled, input)) if (!state.perImage.has(id)) state.perImage.set(id, p);
    },
  };
  if (config.update === 'iteration') {
    hooks.onStepEnd = ({ labeled, ids, prediction, pixelMaps, state }) => {
      if (labeled) return;
      ids.forEach((id, i) => {
        const back = unmapPixels(prediction.subarray(i * pixels, (i + 1) * pixels), pixelMaps[i]);
        emaUpdate(pseudoLabelOf(state, id), back.values, config.beta, back.hit);
      });
    };
  } else {
    hooks.onEpochEnd = async ({ model, state }) => {
      for (const [id, p] of await predictUnlabeled(model, unlabeled, input)) emaUpdate(pseudoLabelOf(state, id), p, config.beta);
    };
  }
  return { term: pseudoLabelTerm(config), hooks, dispose: () => undefined };
}

const TEACHER_PREFIX = 'teacher/';

/**
 * The weight-EMA ("mean teacher") reading of EPI, as LViT-Mamba implements it (SEMI.md): the
 * teacher's parameters and BatchNorm statistics follow the student's, t = beta * t + (1 - beta) * s,
 * after every optimizer step (LViT-Mamba updates once per epoch, which with beta = 0.99 leaves the
 * teacher at its initialisation; per step is the usual mean-teacher rule). The teacher starts as
 * the prototype; its eval-mode prediction of each unlabelled batch, in the batch's own augmented
 * frame, is the pseudo-label. Its weights live in `state.arrays`, so they are checkpointed.
 */
function createMeanTeacher(config: EpiConfig, input: EpiInput): Epi {
  if (!input.createTeacher) throw new Error("train/epi.ts: update 'mean-teacher' needs input.createTeacher");
  let student: SegmentationModel | null = null;
  let teacher: SegmentationModel | null = null;
  const models = (): { student: SegmentationModel; teacher: SegmentationModel } => {
    if (!student || !teacher) throw new Error('train/epi.ts: the mean teacher is used before the first epoch started');
    return { student, teacher };
  };
  /** Copy the EMA weights held in the run state into the teacher model. */
  const loadTeacher = (state: RunState): void => {
    tf.tidy(() => {
      for (const [name, v] of models().teacher.namedState()) v.assign(tf.tensor(state.arrays.get(TEACHER_PREFIX + name)!, v.shape, v.dtype));
    });
  };
  const hooks: TrainHooks = {
    onEpochStart: ({ model, state }) => {
      student = model;
      teacher ??= input.createTeacher!();
      // A fresh run starts the teacher at the prototype; a resumed one finds its weights in the state.
      if (!model.namedState().every(([name]) => state.arrays.has(TEACHER_PREFIX + name))) {
        for (const [name, v] of model.namedState()) state.arrays.set(TEACHER_PREFIX + name, (v.dataSync() as Float32Array).slice());
      }
      loadTeacher(state);
    },
    onStepEnd: ({ state }) => {
      for (const [name, v] of models().student.namedState()) emaUpdate(state.arrays.get(TEACHER_PREFIX + name)!, v.dataSync() as Float32Array, config.beta);
      loadTeacher(state);
    },
  };
  const term: LossTerm = {
    name: PSEUDO_TERM,
    weight: config.weight,
    appliesTo: 'unlabeled',
    compute: ({ pred, images, text }) => {
      const soft = models().teacher.forward(images, text, { training: false }); // [B,H,W,1]
      const target = config.target === 'soft' ? soft : tf.cast(tf.greaterEqual(soft, 0.5), 'float32');
      return weightedDiceBCE(pred, target as tf.Tensor4D);
    },
  };
  return {
    term,
    hooks,
    dispose: () => {
      teacher?.dispose();
      teacher = null;
    },
  };
}
