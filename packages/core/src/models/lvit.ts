import * as tf from '@tensorflow/tfjs';
import { Rng } from '../rng.js';
import { ForwardContext, Module } from '../nn/module.js';
import { Conv1d, Conv2d } from '../nn/layers.js';
import type { SegmentationModel } from '../types.js';
import { ConvBatchNorm, DownBlock } from '../blocks/conv-bn-relu.js';
import { Reconstruct } from '../blocks/reconstruct.js';
import { UpblockAttention } from '../blocks/upblock-attention.js';
import { VitBranch } from '../blocks/vit-branch.js';
import { LViTConfig, lvitConfig, lvitLevels } from './lvit-config.js';

const FILE = 'lvit.ts';

/** Every named intermediate of one forward pass (NHWC maps, [B,N,C] tokens). */
export interface LViTFeatures {
  /** CNN encoder: x1 [B,S,S,b] ... x4 [B,S/8,S/8,8b], x5 [B,S/16,S/16,8b] (before the ViT skips are added). */
  x1: tf.Tensor4D;
  x2: tf.Tensor4D;
  x3: tf.Tensor4D;
  x4: tf.Tensor4D;
  x5: tf.Tensor4D;
  /** Projected text [B,T,{b,2b,4b,8b}] (null for LViT-TW). */
  text1: tf.Tensor3D | null;
  text2: tf.Tensor3D | null;
  text3: tf.Tensor3D | null;
  text4: tf.Tensor3D | null;
  /** Encoder ViT tokens y1..y4 [B,N,{b,2b,4b,8b}]. */
  down1: tf.Tensor3D;
  down2: tf.Tensor3D;
  down3: tf.Tensor3D;
  down4: tf.Tensor3D;
  /** Decoder ViT tokens y1'..y4' [B,N,{b,2b,4b,8b}]. */
  up1: tf.Tensor3D;
  up2: tf.Tensor3D;
  up3: tf.Tensor3D;
  up4: tf.Tensor3D;
  /** Reconstruct_l(y_l') [B,S_l,S_l,C_l], added to x_l to form the decoder skips. */
  recon1: tf.Tensor4D;
  recon2: tf.Tensor4D;
  recon3: tf.Tensor4D;
  recon4: tf.Tensor4D;
  /** Decoder outputs of up4..up1: [B,S/8,S/8,4b], [B,S/4,S/4,2b], [B,S/2,S/2,b], [B,S,S,b]. */
  dec4: tf.Tensor4D;
  dec3: tf.Tensor4D;
  dec2: tf.Tensor4D;
  dec1: tf.Tensor4D;
  /** Foreground probabilities [B,S,S,1]. */
  out: tf.Tensor4D;
}

/**
 * LViT (Li et al., "LViT: Language meets Vision Transformer in Medical Image Segmentation", IEEE TMI
 * 2023, arXiv 2206.14718), reproducing the official `nets/LViT.py` + `nets/Vit.py` +
 * `nets/pixlevel.py` (HUANGLIZI/LViT @ a9b0b41) block by block; LVIT.md §1 describes each step.
 * Layout is NHWC: image [B,S,S,3] in [0,1] → probabilities [B,S,S,1].
 *
 * Reading Fig. 1 top to bottom (b = baseChannels, N = tokenGrid², full config b=64, S=224, N=196):
 * - CNN encoder: `inc`, `down1..4` give x1..x5.
 * - Text: `text_module4..1` (Conv1d k3, no activation between) take text [B,T,768] to text1 [B,T,b].
 * - ViT encoder: y1 = `downVit`(x1, text1) (the only place text enters, through CTBN3);
 *   y_l = `downVit{l-1}`(x_l, y_{l-1}) for l = 2..4.
 * - ViT decoder: y4' = `upVit3`(y4); y_l' = `upVit{l-1}`(y_l, y_{l+1}').
 * - Skips: x_l += `reconstruct{l}`(y_l').
 * - Decoder: `up4..up1` (UpblockAttention: upsample, PLAM on the skip, concat, 2 × ConvBN), `outc`, sigmoid.
 *
 * Differences from the official code, all deliberate:
 * - Only modules that the official forward reaches are built: not `pix_module1..4`, nor each ViT's
 *   `norm`/`head`/unused CTBNs/up-path embeddings, nor PLAM's `conv_sig`. At the full config the
 *   parameter count is 29,908,033, the official "used" count (39,933,345 registered) — LVIT.md §1.8.
 * - Upstream hard-codes the ViT widths 64..512, the patch sizes 16/8/4/2 and 196 tokens, and picks
 *   each ViT's behaviour from `dim == 64` / `dim == 512`. Here widths follow `baseChannels`, patch
 *   sizes are imageSize/2^(l-1)/tokenGrid, and the behaviour is an explicit role per instance,
 *   which is identical at the full config and keeps every block in a reduced one.
 * - Weight init per top-level module uses its own seeded stream (`Rng.derive(seed, name)`), so
 *   LViT-T and LViT-TW built with one seed share every common weight.
 *
 * LViT-TW (`withText: false`): the official repository publishes LViT-TW numbers but no code for it
 * (LVIT.md §9 q.9). Here it is LViT with the text path removed: no `text_module1..4`, no `CTBN3`, and
 * y1 = Block(Emb(x1)); everything else is unchanged (28,204,861 parameters at the full config).
 * Why this and not zero or constant text: with a constant text input, CTBN3's Conv1d output is
 * constant along its length axis, so in training mode its BatchNorm turns it into the learned shift
 * β per token, i.e. ReLU(β) added to every token: a second, redundant position embedding. Removing
 * the path is the same model up to that redundancy, needs no fake input, and makes `usesText` honest.
 */
export class LViT extends Module implements SegmentationModel {
  readonly name: string;
  readonly usesText: boolean;
  readonly config: LViTConfig;

  readonly inc: ConvBatchNorm;
  readonly downVit: VitBranch;
  readonly downVit1: VitBranch;
  readonly downVit2: VitBranch;
  readonly downVit3: VitBranch;
  readonly upVit: VitBranch;
  readonly upVit1: VitBranch;
  readonly upVit2: VitBranch;
  readonly upVit3: VitBranch;
  readonly down1: DownBlock;
  readonly down2: DownBlock;
  readonly down3: DownBlock;
  readonly down4: DownBlock;
  readonly up4: UpblockAttention;
  readonly up3: UpblockAttention;
  readonly up2: UpblockAttention;
  readonly up1: UpblockAttention;
  readonly outc: Conv2d;
  readonly reconstruct1: Reconstruct;
  readonly reconstruct2: Reconstruct;
  readonly reconstruct3: Reconstruct;
  readonly reconstruct4: Reconstruct;
  readonly text_module4: Conv1d | null;
  readonly text_module3: Conv1d | null;
  readonly text_module2: Conv1d | null;
  readonly text_module1: Conv1d | null;

  constructor(config: Partial<LViTConfig> = {}) {
    super();
    const cfg = lvitConfig(config);
    this.config = cfg;
    this.usesText = cfg.withText;
    this.name = cfg.withText ? 'lvit-t' : 'lvit-tw';
    const rng = (module: string) => Rng.derive(cfg.seed, module);
    const b = cfg.baseChannels;
    const [l1, l2, l3, l4] = lvitLevels(cfg);
    const vit = (name: string, role: 'down-text' | 'down' | 'up-deepest' | 'up', level: typeof l1) =>
      this.child(
        name,
        new VitBranch(
          {
            role,
            dim: level.channels,
            featureSize: level.featureSize,
            patchSize: level.patchSize,
            tokens: level.tokens,
            heads: cfg.heads,
            mlpRatio: cfg.mlpRatio,
            dropout: cfg.dropout,
            textTokens: role === 'down-text' && cfg.withText ? cfg.textTokens : null,
          },
          rng(name),
        ),
      );

    // Registration order follows the official __init__ (and so its state-dict order).
    this.inc = this.child('inc', new ConvBatchNorm(cfg.inChannels, b, rng('inc')));
    this.downVit = vit('downVit', 'down-text', l1);
    this.downVit1 = vit('downVit1', 'down', l2);
    this.downVit2 = vit('downVit2', 'down', l3);
    this.downVit3 = vit('downVit3', 'down', l4);
    this.upVit = vit('upVit', 'up', l1);
    this.upVit1 = vit('upVit1', 'up', l2);
    this.upVit2 = vit('upVit2', 'up', l3);
    this.upVit3 = vit('upVit3', 'up-deepest', l4);
    this.down1 = this.child('down1', new DownBlock(b, b * 2, rng('down1')));
    this.down2 = this.child('down2', new DownBlock(b * 2, b * 4, rng('down2')));
    this.down3 = this.child('down3', new DownBlock(b * 4, b * 8, rng('down3')));
    this.down4 = this.child('down4', new DownBlock(b * 8, b * 8, rng('down4')));
    this.up4 = this.child('up4', new UpblockAttention(b * 16, b * 4, rng('up4')));
    this.up3 = this.child('up3', new UpblockAttention(b * 8, b * 2, rng('up3')));
    this.up2 = this.child('up2', new UpblockAttention(b * 4, b, rng('up2')));
    this.up1 = this.child('up1', new UpblockAttention(b * 2, b, rng('up1')));
    this.outc = this.child('outc', new Conv2d(b, 1, 1, rng('outc'), { padding: 'valid' }));
    const recon = (name: string, level: typeof l1) =>
      this.child(name, new Reconstruct(level.channels, level.channels, level.patchSize, rng(name)));
    this.reconstruct1 = recon('reconstruct1', l1);
    this.reconstruct2 = recon('reconstruct2', l2);
    this.reconstruct3 = recon('reconstruct3', l3);
    this.reconstruct4 = recon('reconstruct4', l4);
    const text = (name: string, cin: number, cout: number) =>
      cfg.withText ? this.child(name, new Conv1d(cin, cout, 3, rng(name))) : null;
    this.text_module4 = text('text_module4', cfg.textDim, b * 8);
    this.text_module3 = text('text_module3', b * 8, b * 4);
    this.text_module2 = text('text_module2', b * 4, b * 2);
    this.text_module1 = text('text_module1', b * 2, b);
  }

  /** image [B,S,S,C] in [0,1], text [B,T,D] (ignored by LViT-TW) -> probabilities [B,S,S,1]. */
  forward(image: tf.Tensor4D, text: tf.Tensor3D | null, ctx: ForwardContext): tf.Tensor4D {
    return tf.tidy(() => this.forwardFeatures(image, text, ctx).out);
  }

  /**
   * The forward pass with every intermediate returned (for tests, shape tables and visualisation).
   * The caller owns all returned tensors (wrap in tf.tidy).
   */
  forwardFeatures(image: tf.Tensor4D, text: tf.Tensor3D | null, ctx: ForwardContext): LViTFeatures {
    this.checkInputs(image, text);
    const x1 = this.inc.forward(image, ctx);
    const [text1, text2, text3, text4] = this.projectText(this.usesText ? text : null);
    const down1 = this.downVit.forwardDown(x1, null, text1, ctx);
    const x2 = this.down1.forward(x1, ctx);
    const down2 = this.downVit1.forwardDown(x2, down1, null, ctx);
    const x3 = this.down2.forward(x2, ctx);
    const down3 = this.downVit2.forwardDown(x3, down2, null, ctx);
    const x4 = this.down3.forward(x3, ctx);
    const down4 = this.downVit3.forwardDown(x4, down3, null, ctx);
    const x5 = this.down4.forward(x4, ctx);

    const up4 = this.upVit3.forwardUp(down4, null, ctx);
    const up3 = this.upVit2.forwardUp(down3, up4, ctx);
    const up2 = this.upVit1.forwardUp(down2, up3, ctx);
    const up1 = this.upVit.forwardUp(down1, up2, ctx);

    const recon1 = this.reconstruct1.forward(up1, ctx);
    const recon2 = this.reconstruct2.forward(up2, ctx);
    const recon3 = this.reconstruct3.forward(up3, ctx);
    const recon4 = this.reconstruct4.forward(up4, ctx);

    const dec4 = this.up4.forward(x5, tf.add(x4, recon4), ctx);
    const dec3 = this.up3.forward(dec4, tf.add(x3, recon3), ctx);
    const dec2 = this.up2.forward(dec3, tf.add(x2, recon2), ctx);
    const dec1 = this.up1.forward(dec2, tf.add(x1, recon1), ctx);
    const out = tf.sigmoid(this.outc.forward(dec1));
    return {
      x1, x2, x3, x4, x5, text1, text2, text3, text4,
      down1, down2, down3, down4, up1, up2, up3, up4,
      recon1, recon2, recon3, recon4, dec4, dec3, dec2, dec1, out,
    };
  }

  /** text [B,T,D] -> [text1, text2, text3, text4] = [B,T,b], [B,T,2b], [B,T,4b], [B,T,8b]; nulls without text. */
  private projectText(text: tf.Tensor3D | null): (tf.Tensor3D | null)[] {
    if (!text || !this.text_module4) return [null, null, null, null];
    const text4 = this.text_module4.forward(text);
    const text3 = this.text_module3!.forward(text4);
    const text2 = this.text_module2!.forward(text3);
    const text1 = this.text_module1!.forward(text2);
    return [text1, text2, text3, text4];
  }

  private checkInputs(image: tf.Tensor4D, text: tf.Tensor3D | null): void {
    const { imageSize: s, inChannels: c, textTokens: t, textDim: d } = this.config;
    const [batch, h, w, ch] = image.shape;
    if (image.rank !== 4 || h !== s || w !== s || ch !== c) {
      throw new Error(`${FILE}: image must be [B,${s},${s},${c}] (NHWC), got [${image.shape.join(',')}]`);
    }
    if (!this.usesText) return;
    if (!text) throw new Error(`${FILE}: ${this.name} needs text features [B,${t},${d}], got null`);
    if (text.rank !== 3 || text.shape[0] !== batch || text.shape[1] !== t || text.shape[2] !== d) {
      throw new Error(`${FILE}: text must be [${batch},${t},${d}] (batch of the image), got [${text.shape.join(',')}]`);
    }
  }
}

/**
 * Expected shape of every `LViTFeatures` entry for a config (null where absent), derived from the
 * config alone. At the full config these are the LVIT.md §8 shapes (channels last).
 */
export function lvitFeatureShapes(config: Partial<LViTConfig>, batch = 1): Record<keyof LViTFeatures, number[] | null> {
  const cfg = lvitConfig(config);
  const [l1, l2, l3, l4] = lvitLevels(cfg);
  const map = (l: typeof l1) => [batch, l.featureSize, l.featureSize, l.channels];
  const tokens = (l: typeof l1) => [batch, l.tokens, l.channels];
  const text = (l: typeof l1) => (cfg.withText ? [batch, cfg.textTokens, l.channels] : null);
  const s5 = cfg.imageSize / 16;
  const b = cfg.baseChannels;
  return {
    x1: map(l1), x2: map(l2), x3: map(l3), x4: map(l4), x5: [batch, s5, s5, 8 * b],
    text1: text(l1), text2: text(l2), text3: text(l3), text4: text(l4),
    down1: tokens(l1), down2: tokens(l2), down3: tokens(l3), down4: tokens(l4),
    up1: tokens(l1), up2: tokens(l2), up3: tokens(l3), up4: tokens(l4),
    recon1: map(l1), recon2: map(l2), recon3: map(l3), recon4: map(l4),
    dec4: [batch, l4.featureSize, l4.featureSize, 4 * b],
    dec3: [batch, l3.featureSize, l3.featureSize, 2 * b],
    dec2: [batch, l2.featureSize, l2.featureSize, b],
    dec1: [batch, l1.featureSize, l1.featureSize, b],
    out: [batch, cfg.imageSize, cfg.imageSize, 1],
  };
}
