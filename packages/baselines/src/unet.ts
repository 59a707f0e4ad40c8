import * as tf from '@tensorflow/tfjs';
import {
  Conv2d,
  ConvStack,
  ConvBatchNorm,
  ConvTranspose2d,
  DownBlock,
  ForwardContext,
  Module,
  Rng,
  SegmentationModel,
} from '@lvit-bench/core';

/**
 * U-Net as shipped in the LViT repository (`nets/UNet.py`, identical to UCTransNet's; LVIT.md §6),
 * the baseline row of the paper and the source of LViT's "pretrain" weights.
 *
 * - `inc` ConvBatchNorm(in→b); `down1..4` MaxPool + 2 ConvBatchNorm (b→2b→4b→8b→8b);
 * - `up4..1`: ConvTranspose2d(in/2, in/2, 2, stride 2), concat [up, skip] (the official order,
 *   `torch.cat([out, skip_x], dim=1)`), 2 ConvBatchNorm; `outc` 1×1 conv, then a sigmoid.
 * - Field names follow the official state dict (`down1.nConvs.0.conv.weight`, `up4.up.weight`, ...),
 *   which LViT shares, so copying weights by name reproduces the official "LViT_pretrain".
 *
 * Base 64 has 14,751,873 parameters. Height and width must be multiples of 16.
 *
 * Example: `new UNet({ seed: 666 }).forward(x [2,224,224,3], null, { training: false })` → [2,224,224,1].
 */

export interface UNetConfig {
  inChannels?: number;
  baseChannels?: number;
  seed: number;
}

/** `UpBlock`: [B,h,w,in/2] + skip [B,2h,2w,in/2] -> [B,2h,2w,out]. */
export class UpBlock extends Module {
  readonly up: ConvTranspose2d;
  readonly nConvs: ConvStack;

  constructor(inChannels: number, outChannels: number, rng: Rng, convs = 2) {
    super();
    this.up = this.child('up', new ConvTranspose2d(inChannels / 2, inChannels / 2, 2, 2, rng));
    this.nConvs = this.child('nConvs', new ConvStack(inChannels, outChannels, convs, rng));
  }

  forward(x: tf.Tensor4D, skip: tf.Tensor4D, ctx: ForwardContext): tf.Tensor4D {
    const up = this.up.forward(x);
    return this.nConvs.forward(tf.concat([up, skip], 3), ctx);
  }
}

export class UNet extends Module implements SegmentationModel {
  readonly name = 'unet';
  readonly usesText = false;
  readonly config: Required<UNetConfig>;
  readonly inc: ConvBatchNorm;
  readonly down1: DownBlock;
  readonly down2: DownBlock;
  readonly down3: DownBlock;
  readonly down4: DownBlock;
  readonly up4: UpBlock;
  readonly up3: UpBlock;
  readonly up2: UpBlock;
  readonly up1: UpBlock;
  readonly outc: Conv2d;

  constructor(config: UNetConfig) {
    super();
    const inC = config.inChannels ?? 3;
    const b = config.baseChannels ?? 64;
    if (!Number.isInteger(inC) || inC < 1) throw new Error(`baselines/unet.ts: inChannels must be a positive integer, got ${inC}`);
    if (!Number.isInteger(b) || b < 1) throw new Error(`baselines/unet.ts: baseChannels must be a positive integer, got ${b}`);
    this.config = { inChannels: inC, baseChannels: b, seed: config.seed };
    const rng = new Rng(config.seed);
    // Registration order matches the official module order (state-dict order).
    this.inc = this.child('inc', new ConvBatchNorm(inC, b, rng));
    this.down1 = this.child('down1', new DownBlock(b, 2 * b, rng));
    this.down2 = this.child('down2', new DownBlock(2 * b, 4 * b, rng));
    this.down3 = this.child('down3', new DownBlock(4 * b, 8 * b, rng));
    this.down4 = this.child('down4', new DownBlock(8 * b, 8 * b, rng));
    this.up4 = this.child('up4', new UpBlock(16 * b, 4 * b, rng));
    this.up3 = this.child('up3', new UpBlock(8 * b, 2 * b, rng));
    this.up2 = this.child('up2', new UpBlock(4 * b, b, rng));
    this.up1 = this.child('up1', new UpBlock(2 * b, b, rng));
    this.outc = this.child('outc', new Conv2d(b, 1, 1, rng));
  }

  /** image [B,H,W,inC] in [0,1] -> [B,H,W,1] probabilities. `text` is ignored. */
  forward(image: tf.Tensor4D, _text: tf.Tensor3D | null, ctx: ForwardContext): tf.Tensor4D {
    const [, h, w, c] = image.shape;
    if (h % 16 !== 0 || w % 16 !== 0 || c !== this.config.inChannels) {
      throw new Error(`baselines/unet.ts: input [B,${h},${w},${c}] needs H, W multiples of 16 and ${this.config.inChannels} channels`);
    }
    return tf.tidy(() => {
      const x1 = this.inc.forward(image, ctx); // [B,H,W,b]
      const x2 = this.down1.forward(x1, ctx); // [B,H/2,W/2,2b]
      const x3 = this.down2.forward(x2, ctx); // [B,H/4,W/4,4b]
      const x4 = this.down3.forward(x3, ctx); // [B,H/8,W/8,8b]
      const x5 = this.down4.forward(x4, ctx); // [B,H/16,W/16,8b]
      let x = this.up4.forward(x5, x4, ctx); // [B,H/8,W/8,4b]
      x = this.up3.forward(x, x3, ctx); // [B,H/4,W/4,2b]
      x = this.up2.forward(x, x2, ctx); // [B,H/2,W/2,b]
      x = this.up1.forward(x, x1, ctx); // [B,H,W,b]
      return tf.sigmoid(this.outc.forward(x)); // [B,H,W,1]
    });
  }
}
