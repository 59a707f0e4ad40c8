import * as tf from '@tensorflow/tfjs';
import { Rng } from '../rng.js';
import { ForwardContext, Module } from '../nn/module.js';
import { LayerNorm } from '../nn/layers.js';
import { Attention } from './attention.js';
import { Mlp } from './mlp.js';
import { requirePositiveInt } from './check.js';

const FILE = 'transformer-block.ts';

export interface TransformerBlockOptions {
  /** Hidden width of the MLP as a multiple of dim (4 in LViT). */
  mlpRatio?: number;
  /** MLP dropout (0.1 in LViT; attention dropout and drop-path are 0 there). */
  dropout?: number;
  qkvBias?: boolean;
  geluAfterFc2?: boolean;
}

/**
 * Pre-norm transformer block: the official `Block` in `nets/Vit.py` (HUANGLIZI/LViT @ a9b0b41;
 * timm's ViT block with LViT's MLP; LVIT.md §1.4). LayerNorms use torch's default eps 1e-5.
 *
 * x [B,N,C] -> x + attn(norm1(x)) -> x + mlp(norm2(x)) -> [B,N,C]
 */
export class TransformerBlock extends Module {
  readonly norm1: LayerNorm;
  readonly attn: Attention;
  readonly norm2: LayerNorm;
  readonly mlp: Mlp;

  constructor(
    readonly dim: number,
    heads: number,
    rng: Rng,
    opts: TransformerBlockOptions = {},
  ) {
    super();
    requirePositiveInt(FILE, 'dim', dim);
    const mlpRatio = opts.mlpRatio ?? 4;
    const hidden = Math.trunc(dim * mlpRatio); // torch: int(dim * mlp_ratio)
    if (!(hidden > 0)) throw new Error(`${FILE}: mlpRatio ${mlpRatio} gives an empty MLP for dim ${dim}`);
    this.norm1 = this.child('norm1', new LayerNorm(dim));
    this.attn = this.child('attn', new Attention(dim, heads, rng, { qkvBias: opts.qkvBias ?? true }));
    this.norm2 = this.child('norm2', new LayerNorm(dim));
    this.mlp = this.child('mlp', new Mlp(dim, hidden, rng, { dropout: opts.dropout, geluAfterFc2: opts.geluAfterFc2 }));
  }

  /** [B,N,C] -> [B,N,C] */
  forward(x: tf.Tensor3D, ctx: ForwardContext): tf.Tensor3D {
    return tf.tidy(() => {
      const h = tf.add(x, this.attn.forward(this.norm1.forward(x))) as tf.Tensor3D;
      return tf.add(h, this.mlp.forward(this.norm2.forward(h), ctx)) as tf.Tensor3D;
    });
  }
}
