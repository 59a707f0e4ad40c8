import type * as tf from '@tensorflow/tfjs';
import { Rng } from '../rng.js';
import { ForwardContext, Module, ModuleList } from '../nn/module.js';
import { BatchNorm, Conv2d, maxPool2x2 } from '../nn/layers.js';

/**
 * `ConvBatchNorm` of the official U-Net/LViT code: Conv2d 3x3 (pad 1, bias) -> BatchNorm2d -> ReLU.
 * [B,H,W,Cin] -> [B,H,W,Cout]. Field names (`conv`, `norm`) follow the official state dict.
 */
export class ConvBatchNorm extends Module {
  readonly conv: Conv2d;
  readonly norm: BatchNorm;

  constructor(inChannels: number, outChannels: number, rng: Rng) {
    super();
    this.conv = this.child('conv', new Conv2d(inChannels, outChannels, 3, rng, { padding: 'same' }));
    this.norm = this.child('norm', new BatchNorm(outChannels));
  }

  forward(x: tf.Tensor4D, ctx: ForwardContext): tf.Tensor4D {
    return this.norm.forward(this.conv.forward(x), ctx, 'relu');
  }
}

/** `nb_Conv` ConvBatchNorm blocks in a row (the official `nConvs`). */
export class ConvStack extends ModuleList<ConvBatchNorm> {
  constructor(inChannels: number, outChannels: number, count: number, rng: Rng) {
    super(Array.from({ length: count }, (_, i) => new ConvBatchNorm(i === 0 ? inChannels : outChannels, outChannels, rng)));
  }

  forward(x: tf.Tensor4D, ctx: ForwardContext): tf.Tensor4D {
    return this.items.reduce((h, block) => block.forward(h, ctx), x);
  }
}

/** `DownBlock`: MaxPool2d(2) -> nConvs. [B,H,W,Cin] -> [B,H/2,W/2,Cout]. */
export class DownBlock extends Module {
  readonly nConvs: ConvStack;

  constructor(inChannels: number, outChannels: number, rng: Rng, convs = 2) {
    super();
    this.nConvs = this.child('nConvs', new ConvStack(inChannels, outChannels, convs, rng));
  }

  forward(x: tf.Tensor4D, ctx: ForwardContext): tf.Tensor4D {
    return this.nConvs.forward(maxPool2x2(x), ctx);
  }
}
