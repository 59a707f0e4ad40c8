import * as tf from '@tensorflow/tfjs';
import type { SegSample, SegSplit } from '../types.js';

/** How a model receives text: a per-sentence feature function and its [tokens, dim] shape. */
export interface TextInput {
  /** [T*D] features of one sentence. Called for every sample of every batch: cache inside if slow. */
  textFeatures?: (text: string) => Float32Array;
  textShape?: [number, number];
}

export interface Batch {
  ids: string[];
  /** [B,H,W,C] */
  images: tf.Tensor4D;
  /** [B,H,W,1] */
  masks: tf.Tensor4D;
  /** [B,T,D] when the model uses text, else null. */
  text: tf.Tensor3D | null;
}

/** Fail early when a model needs text but no feature function was given. */
export function checkTextInput(usesText: boolean, input: TextInput, where: string): void {
  if (!usesText) return;
  if (!input.textFeatures || !input.textShape) {
    throw new Error(`train/batch.ts (${where}): the model uses text, so textFeatures and textShape are required`);
  }
}

/** Stack samples into NHWC tensors; text features are computed only when `usesText`. */
export function makeBatch(samples: SegSample[], split: SegSplit, usesText: boolean, input: TextInput): Batch {
  const { height: h, width: w, channels: c } = split;
  const b = samples.length;
  const images = new Float32Array(b * h * w * c);
  const masks = new Float32Array(b * h * w);
  samples.forEach((s, i) => {
    if (s.image.length !== h * w * c || s.mask.length !== h * w) {
      throw new Error(
        `train/batch.ts: sample '${s.id}' of ${split.dataset}/${split.split} has ${s.image.length} image and ${s.mask.length} mask values, expected ${h * w * c} and ${h * w}`,
      );
    }
    images.set(s.image, i * h * w * c);
    masks.set(s.mask, i * h * w);
  });
  let text: tf.Tensor3D | null = null;
  if (usesText) {
    checkTextInput(true, input, 'makeBatch');
    const [t, d] = input.textShape!;
    const features = new Float32Array(b * t * d);
    samples.forEach((s, i) => {
      const f = input.textFeatures!(s.text);
      if (f.length !== t * d) throw new Error(`train/batch.ts: text features of '${s.id}' have ${f.length} values, expected ${t}x${d}`);
      features.set(f, i * t * d);
    });
    text = tf.tensor3d(features, [b, t, d]);
  }
  return {
    ids: samples.map((s) => s.id),
    images: tf.tensor4d(images, [b, h, w, c]),
    masks: tf.tensor4d(masks, [b, h, w, 1]),
    text,
  };
}

export function disposeBatch(batch: Batch): void {
  tf.dispose([batch.images, batch.masks, ...(batch.text ? [batch.text] : [])]);
}
