import * as tf from '@tensorflow/tfjs';
import { ConvBatchNorm } from '../blocks/conv-bn-relu.js';
import { Conv2d, dropout } from '../nn/layers.js';
import { ForwardContext, Module } from '../nn/module.js';
import { Rng } from '../rng.js';
import type { SegmentationModel, SegSample, SegSplit } from '../types.js';
import type { GeometricAugment } from './pixel-map.js';

/**
 * Tiny synthetic data and a tiny model for tests and smoke runs of the training code: no files,
 * fully determined by a seed, small enough for the cpu backend.
 */

export interface SquaresSplitOptions {
  size: number;
  height?: number;
  width?: number;
  channels?: number;
  seed: number;
  split?: SegSplit['split'];
  /** Fraction of images with no square (empty masks exercise the empty/empty metric cases). */
  emptyFraction?: number;
}

/** Noisy images, each with one brighter square whose pixels form the mask. */
export function syntheticSquaresSplit(opts: SquaresSplitOptions): SegSplit {
  const h = opts.height ?? 16;
  const w = opts.width ?? 16;
  const c = opts.channels ?? 3;
  const rng = new Rng(opts.seed);
  const samples: SegSample[] = [];
  for (let n = 0; n < opts.size; n++) {
    const image = new Float32Array(h * w * c);
    const mask = new Uint8Array(h * w);
    const empty = rng.next() < (opts.emptyFraction ?? 0);
    const side = 3 + rng.int(Math.max(1, Math.min(h, w) / 2 - 2));
    const y0 = rng.int(h - side + 1);
    const x0 = rng.int(w - side + 1);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const inside = !empty && y >= y0 && y < y0 + side && x >= x0 && x < x0 + side;
        if (inside) mask[y * w + x] = 1;
        for (let k = 0; k < c; k++) image[(y * w + x) * c + k] = (inside ? 0.6 : 0.1) + 0.3 * rng.next();
      }
    }
    samples.push({ id: `sq${n}`, image, mask, text: empty ? 'no square' : `square of side ${side}` });
  }
  return {
    dataset: 'synthetic-squares',
    split: opts.split ?? 'train',
    size: opts.size,
    height: h,
    width: w,
    channels: c,
    ids: samples.map((s) => s.id),
    sample: (i) => {
      const s = samples[i];
      if (!s) throw new Error(`train/synthetic.ts: sample index ${i} out of range 0..${opts.size - 1}`);
      return { ...s, image: s.image.slice(), mask: s.mask.slice() };
    },
    image: (i) => {
      const s = samples[i];
      if (!s) throw new Error(`train/synthetic.ts: sample index ${i} out of range 0..${opts.size - 1}`);
      return { id: s.id, image: s.image.slice(), text: s.text };
    },
    text: (i) => samples[i].text,
  };
}

/** Horizontal flip with probability 0.5, as a pixel map: the smallest augmentation that moves pixels. */
export const randomHorizontalFlip: GeometricAugment = (h, w, rng) => {
  if (rng.next() < 0.5) return null;
  const map = new Int32Array(h * w);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) map[y * w + x] = y * w + (w - 1 - x);
  return map;
};

/** ConvBatchNorm(C→width) → dropout → 1×1 conv → sigmoid. Optionally reads a [B,T,D] text tensor. */
export class TinySegNet extends Module implements SegmentationModel {
  readonly name = 'tiny-segnet';
  readonly usesText: boolean;
  readonly body: ConvBatchNorm;
  readonly head: Conv2d;
  private readonly dropoutRate: number;

  constructor(opts: { inChannels?: number; width?: number; seed: number; dropout?: number; textDim?: number }) {
    super();
    const rng = new Rng(opts.seed);
    const width = opts.width ?? 4;
    this.usesText = opts.textDim !== undefined;
    this.dropoutRate = opts.dropout ?? 0;
    this.body = this.child('body', new ConvBatchNorm(opts.inChannels ?? 3, width, rng));
    this.head = this.child('head', new Conv2d(width, 1, 1, rng));
  }

  forward(image: tf.Tensor4D, text: tf.Tensor3D | null, ctx: ForwardContext): tf.Tensor4D {
    return tf.tidy(() => {
      let x = dropout(this.body.forward(image, ctx), this.dropoutRate, ctx); // [B,H,W,width]
      // Text shifts the features by the mean of its values: enough to check it reaches the model.
      if (this.usesText && text) x = tf.add(x, tf.reshape(tf.mean(text, [1, 2]), [-1, 1, 1, 1]));
      return tf.sigmoid(this.head.forward(x)); // [B,H,W,1]
    });
  }
}
