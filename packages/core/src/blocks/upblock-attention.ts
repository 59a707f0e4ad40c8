import * as tf from '@tensorflow/tfjs';
import { Rng } from '../rng.js';
import { ForwardContext, Module } from '../nn/module.js';
import { upsampleNearest } from '../nn/layers.js';
import { ConvStack } from './conv-bn-relu.js';
import { PixLevelModule } from './plam.js';
import { requirePositiveInt } from './check.js';

const FILE = 'upblock-attention.ts';

/**
 * LViT's decoder block, the official `UpblockAttention` in `nets/LViT.py` (HUANGLIZI/LViT @ a9b0b41;
 * LVIT.md §1.5): nearest upsample ×2 of the deep input (no parameters, unlike the U-Net's
 * ConvTranspose2d), PLAM on the skip (`pixModule`, width inChannels/2), concat [PLAM(skip), up] on
 * channels (skip first; the U-Net concatenates [up, skip]), then 2 × ConvBatchNorm (`nConvs`).
 *
 * deep [B,S,S,inChannels/2], skip [B,2S,2S,inChannels/2] -> [B,2S,2S,outChannels]
 */
export class UpblockAttention extends Module {
  readonly pixModule: PixLevelModule;
  readonly nConvs: ConvStack;

  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    rng: Rng,
    convs = 2,
  ) {
    super();
    requirePositiveInt(FILE, 'inChannels', inChannels);
    requirePositiveInt(FILE, 'outChannels', outChannels);
    if (inChannels % 2 !== 0) throw new Error(`${FILE}: inChannels must be even (skip and deep halves), got ${inChannels}`);
    this.pixModule = this.child('pixModule', new PixLevelModule(inChannels / 2, rng));
    this.nConvs = this.child('nConvs', new ConvStack(inChannels, outChannels, convs, rng));
  }

  forward(deep: tf.Tensor4D, skip: tf.Tensor4D, ctx: ForwardContext): tf.Tensor4D {
    const half = this.inChannels / 2;
    const [, s, , cd] = deep.shape;
    const [, h, w, cs] = skip.shape;
    if (cd !== half || cs !== half || h !== 2 * s || w !== 2 * deep.shape[2]) {
      throw new Error(
        `${FILE}: expected deep [B,S,S,${half}] and skip [B,2S,2S,${half}], got [${deep.shape.join(',')}] and [${skip.shape.join(',')}]`,
      );
    }
    return tf.tidy(() => {
      const up = upsampleNearest(deep, 2);
      return this.nConvs.forward(tf.concat([this.pixModule.forward(skip), up], -1) as tf.Tensor4D, ctx);
    });
  }
}
