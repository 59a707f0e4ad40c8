import * as tf from '@tensorflow/tfjs';
import { Rng } from '../rng.js';
import { ForwardContext, Module } from '../nn/module.js';
import { BatchNorm, Conv2d, upsampleNearest } from '../nn/layers.js';
import { requirePositiveInt } from './check.js';

const FILE = 'reconstruct.ts';

/**
 * `Reconstruct` of the official `nets/Vit.py` (HUANGLIZI/LViT @ a9b0b41; LVIT.md §1.4): turns ViT
 * tokens back into a feature map to add to the CNN skip.
 *
 * tokens [B,N,C] -> reshape to the square grid [B,g,g,C] (g = √N, row-major token order) -> nearest
 * upsample ×scale -> Conv2d 1×1 (C→Cout, bias) -> BatchNorm2d -> ReLU -> [B,g·scale,g·scale,Cout].
 * LViT uses kernel 1 with Cout = C and scale = the level's patch size (16, 8, 4, 2).
 */
export class Reconstruct extends Module {
  readonly conv: Conv2d;
  readonly norm: BatchNorm;

  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    readonly scale: number,
    rng: Rng,
  ) {
    super();
    requirePositiveInt(FILE, 'inChannels', inChannels);
    requirePositiveInt(FILE, 'outChannels', outChannels);
    requirePositiveInt(FILE, 'scale', scale);
    this.conv = this.child('conv', new Conv2d(inChannels, outChannels, 1, rng, { padding: 'valid' }));
    this.norm = this.child('norm', new BatchNorm(outChannels));
  }

  /** [B,N,C] -> [B,√N·scale,√N·scale,Cout] */
  forward(tokens: tf.Tensor3D, ctx: ForwardContext): tf.Tensor4D {
    const [b, n, c] = tokens.shape;
    const grid = Math.round(Math.sqrt(n));
    if (grid * grid !== n) throw new Error(`${FILE}: token count ${n} is not a square`);
    if (c !== this.inChannels) throw new Error(`${FILE}: tokens must be [B,N,${this.inChannels}], got [${tokens.shape.join(',')}]`);
    return tf.tidy(() => {
      const map = upsampleNearest(tf.reshape(tokens, [b, grid, grid, c]) as tf.Tensor4D, this.scale);
      return this.norm.forward(this.conv.forward(map), ctx, 'relu');
    });
  }
}
