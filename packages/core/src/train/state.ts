import type * as tf from '@tensorflow/tfjs';
import type { PixelMap } from './pixel-map.js';

/**
 * State a training run carries across steps and epochs, saved in every checkpoint so a resumed run
 * continues identically. `perImage` holds per-image arrays (e.g. EMA pseudo-labels of unlabeled
 * images, LVIT.md §2.2); `extra` holds small JSON-serialisable values.
 */
export interface RunState {
  /** The epoch being run, 1-based (0 before the first). */
  epoch: number;
  /** Optimizer steps taken so far. */
  globalStep: number;
  perImage: Map<string, Float32Array>;
  /** Other named arrays of the run (e.g. a mean teacher's weights). */
  arrays: Map<string, Float32Array>;
  extra: Record<string, unknown>;
}

export function createRunState(): RunState {
  return { epoch: 0, globalStep: 0, perImage: new Map(), arrays: new Map(), extra: {} };
}

/** Everything a loss term may look at for one batch. */
export interface LossTermContext {
  /** Model output, [B,H,W,1] probabilities. */
  pred: tf.Tensor4D;
  /** Input images, [B,H,W,C]. */
  images: tf.Tensor4D;
  /** Ground truth [B,H,W,1], or null for a batch of unlabeled images. */
  masks: tf.Tensor4D | null;
  /** Text features [B,T,D], or null when the model ignores text. */
  text: tf.Tensor3D | null;
  /** Sample ids of the batch, in batch order. */
  ids: string[];
  /** Each sample's augmentation (null = none): per-image state must pass through it to align with `pred`. */
  pixelMaps: PixelMap[];
  state: RunState;
}

/**
 * An additional loss term added to (or, for unlabeled batches, replacing) the supervised
 * `weightedDiceBCE`: total = supervised + Σ weight * compute(ctx). `compute` runs inside the
 * gradient tape; it must return a scalar and may create tensors freely (they are tidied).
 */
export interface LossTerm {
  name: string;
  weight: number;
  appliesTo: 'labeled' | 'unlabeled' | 'all';
  compute(ctx: LossTermContext): tf.Scalar;
}

/** Who is in a batch. A batch is either all labeled or all unlabeled. */
export interface BatchInfo {
  ids: string[];
  labeled: boolean;
  /** Each sample's augmentation, in batch order (null = none). */
  pixelMaps: PixelMap[];
  state: RunState;
}

/** The name under which the supervised loss appears in per-term records. */
export const SUPERVISED_TERM = 'diceBCE';
