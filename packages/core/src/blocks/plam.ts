import * as tf from '@tensorflow/tfjs';
import { Rng } from '../rng.js';
import { Module } from '../nn/module.js';
import { Conv2d, Linear } from '../nn/layers.js';
import { requirePositiveInt } from './check.js';

const FILE = 'plam.ts';

/** The per-pixel MLP `bottleneck` = nn.Sequential(Linear(3,6), ReLU, Linear(6,1)); children named "0" and "2" as in torch. */
class PlamBottleneck extends Module {
  readonly hidden: Linear;
  readonly out: Linear;

  constructor(rng: Rng) {
    super();
    this.hidden = this.child('0', new Linear(3, 6, rng));
    this.out = this.child('2', new Linear(6, 1, rng));
  }

  /** [..., 3] -> [..., 1] */
  forward<T extends tf.Tensor>(x: T): T {
    return this.out.forward(tf.relu(this.hidden.forward(x)));
  }
}

/**
 * PLAM, the Pixel-Level Attention Module, as coded in the official `nets/pixlevel.py`
 * (`PixLevelModule`, HUANGLIZI/LViT @ a9b0b41; LVIT.md §1.6).
 *
 * For x [B,H,W,C] (NHWC; upstream is NCHW):
 * - a = mean_c ReLU(conv_avg(x)), m = max_c ReLU(conv_max(x)), both 1x1 convs without bias -> [B,H,W,1]
 * - w = bottleneck([a, m, a + m]) per pixel, bottleneck = Linear(3,6) -> ReLU -> Linear(6,1) -> [B,H,W,1]
 * - output = w ⊙ x (broadcast over channels) -> [B,H,W,C]
 *
 * Differences from the paper, following the code: the paper's prose describes GAP/GMP "channel and
 * spatial attention"; the code does the per-pixel version above, and applies **no sigmoid** to w.
 * The official module also registers `conv_sig` (1x1 conv + sigmoid) that forward never calls; it
 * is not built here, so parameters are 2C² + 31 (not 3C² + C + 31).
 */
export class PixLevelModule extends Module {
  readonly conv_avg: Conv2d;
  readonly conv_max: Conv2d;
  readonly bottleneck: PlamBottleneck;

  constructor(
    readonly channels: number,
    rng: Rng,
  ) {
    super();
    requirePositiveInt(FILE, 'channels', channels);
    this.conv_avg = this.child('conv_avg', new Conv2d(channels, channels, 1, rng, { bias: false, padding: 'valid' }));
    this.conv_max = this.child('conv_max', new Conv2d(channels, channels, 1, rng, { bias: false, padding: 'valid' }));
    this.bottleneck = this.child('bottleneck', new PlamBottleneck(rng));
  }

  /** [B,H,W,C] -> [B,H,W,C] */
  forward(x: tf.Tensor4D): tf.Tensor4D {
    if (x.rank !== 4 || x.shape[3] !== this.channels) {
      throw new Error(`${FILE}: input must be [B,H,W,${this.channels}], got [${x.shape.join(',')}]`);
    }
    return tf.tidy(() => {
      const avg = tf.mean(this.conv_avg.forward(x, 'relu'), -1, true); // [B,H,W,1]
      const max = tf.max(this.conv_max.forward(x, 'relu'), -1, true); // [B,H,W,1]
      const stacked = tf.concat([avg, max, tf.add(avg, max)], -1); // [B,H,W,3]
      const weight = this.bottleneck.forward(stacked); // [B,H,W,1]
      return tf.mul(x, weight);
    });
  }
}
