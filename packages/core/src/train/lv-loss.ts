import * as tf from '@tensorflow/tfjs';
import type { LvLossConfig, SegSplit, UnlabeledSplit } from '../types.js';
import { remapPixels } from './pixel-map.js';
import type { LossTerm } from './state.js';

/**
 * LViT's language-vision loss for unlabelled images (LVIT.md §2.2, SEMI.md):
 *
 *   c      = argmax_k TextSim(text, text_k)      (cosine; the contrastive label whose text is most similar)
 *   ImgSim = cos(prediction, mask_c)             (both flattened at the model grid)
 *   L_LV   = 1 - ImgSim,  weight 0.1             (the official `WeightedDiceBCE_unsup` leftover)
 *
 * TextSim depends on the texts only, so each unlabelled image's label is chosen once, before
 * training (`assignContrastiveLabels`). The chosen mask is moved through the image's augmentation
 * like the image itself, so the comparison is made in the frame the prediction is in.
 *
 * Default text vector: the mean of the token features, as both public re-implementations chose;
 * 'flat' compares the flattened [T*D] matrices instead (position by position). Padding tokens are
 * zero, so the mean over all T tokens points the same way as the mean over the real ones and the
 * cosine is the same.
 */

export const DEFAULT_LV: LvLossConfig = Object.freeze({ weight: 0.1, textVector: 'mean' });

/** The name under which the LV loss appears in per-term records. */
export const LV_TERM = 'lv';

/** One contrastive label: a mask at the model grid and its sentence. */
export interface ContrastiveLabel {
  id: string;
  text: string;
  /** [H*W], values {0,1}. */
  mask: Uint8Array;
}

const COSINE_EPS = 1e-8;

export function checkLvConfig(config: LvLossConfig): void {
  if (!(config.weight > 0)) throw new Error(`train/lv-loss.ts: weight must be > 0, got ${config.weight}`);
  if (config.textVector !== 'mean' && config.textVector !== 'flat') {
    throw new Error(`train/lv-loss.ts: textVector must be 'mean' or 'flat', got '${config.textVector}'`);
  }
}

/** The vector TextSim compares: [T*D] features as they are ('flat') or averaged over tokens to [D] ('mean'). */
export function textVector(features: Float32Array, shape: [number, number], mode: LvLossConfig['textVector']): Float32Array {
  const [t, d] = shape;
  if (features.length !== t * d) throw new Error(`train/lv-loss.ts: text features have ${features.length} values, expected ${t}x${d}`);
  if (mode === 'flat') return features;
  const mean = new Float32Array(d);
  for (let k = 0; k < t; k++) for (let j = 0; j < d; j++) mean[j] += features[k * d + j] / t;
  return mean;
}

/** Cosine similarity in float64, with torch's convention of clamping the norm product at 1e-8. */
export function cosineSimilarity(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`train/lv-loss.ts cosineSimilarity: lengths ${a.length} and ${b.length} differ`);
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  return dot / Math.max(Math.sqrt(na) * Math.sqrt(nb), COSINE_EPS);
}

/** Index of the most similar vector (the first one on ties). */
export function mostSimilar(query: Float32Array, candidates: readonly Float32Array[]): number {
  let best = -1;
  let bestSim = -Infinity;
  candidates.forEach((c, k) => {
    const sim = cosineSimilarity(query, c);
    if (sim > bestSim) {
      bestSim = sim;
      best = k;
    }
  });
  return best;
}

/** For every unlabelled image (by id), the index of its contrastive label. Reads texts only. */
export function assignContrastiveLabels(
  unlabeled: UnlabeledSplit,
  labels: readonly ContrastiveLabel[],
  text: { features: (sentence: string) => Float32Array; shape: [number, number] },
  mode: LvLossConfig['textVector'],
): Map<string, number> {
  if (labels.length === 0) throw new Error('train/lv-loss.ts: the LV loss needs at least one contrastive label');
  const pixels = unlabeled.height * unlabeled.width;
  for (const l of labels) {
    if (l.mask.length !== pixels) throw new Error(`train/lv-loss.ts: contrastive label '${l.id}' has ${l.mask.length} pixels, expected ${unlabeled.height}x${unlabeled.width}`);
  }
  const bank = labels.map((l) => textVector(text.features(l.text), text.shape, mode));
  const out = new Map<string, number>();
  unlabeled.ids.forEach((id, i) => out.set(id, mostSimilar(textVector(text.features(unlabeled.text(i)), text.shape, mode), bank)));
  return out;
}

/** mean_b [1 - cos(pred_b, mask_b)] over flattened maps; pred, masks [B,H,W,1]. */
export function lvLoss(pred: tf.Tensor4D, masks: tf.Tensor4D): tf.Scalar {
  if (!tf.util.arraysEqual(pred.shape, masks.shape)) {
    throw new Error(`train/lv-loss.ts lvLoss: pred ${JSON.stringify(pred.shape)} and masks ${JSON.stringify(masks.shape)} differ`);
  }
  return tf.tidy(() => {
    const b = pred.shape[0];
    const p = tf.reshape(pred, [b, -1]);
    const m = tf.reshape(masks, [b, -1]);
    const dot = tf.sum(tf.mul(p, m), 1);
    const norms = tf.mul(tf.sqrt(tf.sum(tf.square(p), 1)), tf.sqrt(tf.sum(tf.square(m), 1)));
    return tf.mean(tf.sub(1, tf.div(dot, tf.maximum(norms, COSINE_EPS)))) as tf.Scalar;
  });
}

/** The LV term for unlabelled batches, given each image's assigned label. */
export function createLvLossTerm(config: LvLossConfig, labels: readonly ContrastiveLabel[], assignment: ReadonlyMap<string, number>): LossTerm {
  checkLvConfig(config);
  return {
    name: LV_TERM,
    weight: config.weight,
    appliesTo: 'unlabeled',
    compute: ({ pred, ids, pixelMaps }) => {
      const [b, h, w] = pred.shape;
      const masks = new Float32Array(b * h * w);
      ids.forEach((id, i) => {
        const k = assignment.get(id);
        if (k === undefined) throw new Error(`train/lv-loss.ts: unlabelled image '${id}' has no contrastive label assigned`);
        masks.set(remapPixels(labels[k].mask, pixelMaps[i], 1), i * h * w);
      });
      return lvLoss(pred, tf.tensor4d(masks, [b, h, w, 1]));
    },
  };
}

/**
 * A bank from labelled images (their ground-truth masks and texts): for datasets without
 * published contrastive labels (MoNuSeg), as one re-implementation does (SEMI.md).
 */
export function contrastiveBankFromLabeled(split: SegSplit): ContrastiveLabel[] {
  return split.ids.map((id, i) => ({ id, text: split.text(i), mask: split.sample(i).mask }));
}
