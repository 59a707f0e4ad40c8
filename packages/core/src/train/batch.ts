import * as tf from '@tensorflow/tfjs';
import type { ImageSample, SegSample, SplitInfo } from '../types.js';

/** How a model receives text: a per-sentence feature function and its [tokens, dim] shape. */
export interface TextInput {
  /** [T*D] features of one sentence. Called for every sample of every batch: cache inside if slow. */
  textFeatures?: (text: string) => Float32Array;
  textShape?: [number, number];
}

export interface ImageBatch {
  ids: string[];
  /** [B,H,W,C] */
  images: tf.Tensor4D;
  /** [B,T,D] when the model uses text, else null. */
  text: tf.Tensor3D | null;
}

export interface Batch extends ImageBatch {
  /** [B,H,W,1] */
  masks: tf.Tensor4D;
}

/** Fail early when a model needs text but no feature function was given. */
export function checkTextInput(usesText: boolean, input: TextInput, where: string): void {
  if (!usesText) return;
  if (!input.textFeatures || !input.textShape) {
    throw new Error(`train/batch.ts (${where}): the model uses text, so textFeatures and textShape are required`);
  }
}

/** Stack images (and text features, only when `usesText`) into NHWC / [B,T,D] tensors. */
export function makeImageBatch(samples: ImageSample[], split: SplitInfo, usesText: boolean, input: TextInput): ImageBatch {
  const { height: h, width: w, channels: c } = split;
  const b = samples.length;
  const images = new Float32Array(b * h * w * c);
  samples.forEach((s, i) => {
    if (s.image.length !== h * w * c) {
      throw new Error(`train/batch.ts: sample '${s.id}' of ${split.dataset}/${split.split} has ${s.image.length} image values, expected ${h * w * c}`);
    }
    images.set(s.image, i * h * w * c);
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
  return { ids: samples.map((s) => s.id), images: tf.tensor4d(images, [b, h, w, c]), text };
}

/** `makeImageBatch` plus the [B,H,W,1] masks. */
export function makeBatch(samples: SegSample[], split: SplitInfo, usesText: boolean, input: TextInput): Batch {
  const { height: h, width: w } = split;
  const masks = new Float32Array(samples.length * h * w);
  samples.forEach((s, i) => {
    if (s.mask.length !== h * w) {
      throw new Error(`train/batch.ts: sample '${s.id}' of ${split.dataset}/${split.split} has ${s.mask.length} mask values, expected ${h * w}`);
    }
    masks.set(s.mask, i * h * w);
  });
  const batch = makeImageBatch(samples, split, usesText, input);
  return { ...batch, masks: tf.tensor4d(masks, [samples.length, h, w, 1]) };
}

export function disposeBatch(batch: ImageBatch): void {
  tf.dispose([batch.images, ...('masks' in batch ? [(batch as Batch).masks] : []), ...(batch.text ? [batch.text] : [])]);
}
