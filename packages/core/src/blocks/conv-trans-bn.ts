import * as tf from '@tensorflow/tfjs';
import { Rng } from '../rng.js';
import { ForwardContext, Module } from '../nn/module.js';
import { BatchNorm, Conv1d } from '../nn/layers.js';
import { requirePositiveInt } from './check.js';

const FILE = 'conv-trans-bn.ts';

/**
 * Which axis of a rank-3 input holds the Conv1d channels.
 * - 'channels-last': x [B,L,Cin] -> [B,L,Cout]. LViT's `CTBN` and `CTBN2` act on tokens [B,N,C] this
 *   way (the official code transposes to [B,C,N] first, i.e. channels = features, length = tokens).
 * - 'channels-first': x [B,Cin,L] -> [B,Cout,L], torch's own Conv1d layout applied to the tensor as
 *   given. LViT's `CTBN3` is called on the text [B,T,D] without a transpose, so it treats the T text
 *   tokens as channels and the D features as the length: [B,T,D] -> [B,N,D] (LVIT.md §1.4).
 */
export type ConvTransBNLayout = 'channels-last' | 'channels-first';

/**
 * `ConvTransBN` of the official `nets/Vit.py` (HUANGLIZI/LViT @ a9b0b41): Conv1d(k3, pad 1, bias)
 * -> BatchNorm1d -> ReLU. Children `conv`, `norm` as in the official state dict.
 */
export class ConvTransBN extends Module {
  readonly conv: Conv1d;
  readonly norm: BatchNorm;

  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    rng: Rng,
    readonly layout: ConvTransBNLayout = 'channels-last',
  ) {
    super();
    requirePositiveInt(FILE, 'inChannels', inChannels);
    requirePositiveInt(FILE, 'outChannels', outChannels);
    this.conv = this.child('conv', new Conv1d(inChannels, outChannels, 3, rng));
    this.norm = this.child('norm', new BatchNorm(outChannels));
  }

  /** 'channels-last': [B,L,Cin] -> [B,L,Cout]; 'channels-first': [B,Cin,L] -> [B,Cout,L]. */
  forward(x: tf.Tensor3D, ctx: ForwardContext): tf.Tensor3D {
    const channelAxis = this.layout === 'channels-last' ? 2 : 1;
    if (x.rank !== 3 || x.shape[channelAxis] !== this.inChannels) {
      const want = this.layout === 'channels-last' ? `[B,L,${this.inChannels}]` : `[B,${this.inChannels},L]`;
      throw new Error(`${FILE}: ${this.layout} input must be ${want}, got [${x.shape.join(',')}]`);
    }
    return tf.tidy(() => {
      const seq = this.layout === 'channels-last' ? x : (tf.transpose(x, [0, 2, 1]) as tf.Tensor3D);
      const out = this.norm.forward(this.conv.forward(seq), ctx, 'relu');
      return this.layout === 'channels-last' ? out : (tf.transpose(out, [0, 2, 1]) as tf.Tensor3D);
    });
  }
}
