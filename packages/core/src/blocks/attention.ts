import * as tf from '@tensorflow/tfjs';
import { Rng } from '../rng.js';
import { Module } from '../nn/module.js';
import { Linear } from '../nn/layers.js';
import { requirePositiveInt } from './check.js';

const FILE = 'attention.ts';

/**
 * Multi-head self-attention of LViT's ViT branch: the official `Attention` in `nets/Vit.py`
 * (HUANGLIZI/LViT @ a9b0b41, itself timm's ViT attention; LVIT.md §1.4).
 *
 * x [B,N,C] -> qkv Linear(C→3C, bias; LViT builds it with qkv_bias=True) -> split into `heads` heads
 * of size C/heads -> softmax(q kᵀ · (C/heads)^-0.5) v -> merge heads -> proj Linear(C→C) -> [B,N,C].
 * Attention and projection dropout are 0 in LViT, so there is none here. Linear layers keep
 * PyTorch's default init (the official code does not re-initialise them).
 */
export class Attention extends Module {
  readonly qkv: Linear;
  readonly proj: Linear;
  readonly headDim: number;
  readonly scale: number;

  constructor(
    readonly dim: number,
    readonly heads: number,
    rng: Rng,
    opts: { qkvBias?: boolean } = {},
  ) {
    super();
    requirePositiveInt(FILE, 'dim', dim);
    requirePositiveInt(FILE, 'heads', heads);
    if (dim % heads !== 0) throw new Error(`${FILE}: dim ${dim} is not divisible by heads ${heads}`);
    this.headDim = dim / heads;
    this.scale = this.headDim ** -0.5;
    this.qkv = this.child('qkv', new Linear(dim, dim * 3, rng, { bias: opts.qkvBias ?? true }));
    this.proj = this.child('proj', new Linear(dim, dim, rng));
  }

  /** [B,N,C] -> [B,N,C] */
  forward(x: tf.Tensor3D): tf.Tensor3D {
    const [b, n, c] = x.shape;
    if (c !== this.dim) throw new Error(`${FILE}: input must be [B,N,${this.dim}], got [${x.shape.join(',')}]`);
    return tf.tidy(() => {
      // [B,N,3C] -> [B,N,3,h,d] -> [3,B,h,N,d], the same split as torch's reshape/permute.
      const qkv = tf.transpose(tf.reshape(this.qkv.forward(x), [b, n, 3, this.heads, this.headDim]), [2, 0, 3, 1, 4]);
      const [q, k, v] = tf.unstack(qkv, 0).map((t) => tf.reshape(t, [b * this.heads, n, this.headDim]) as tf.Tensor3D);
      const scores = tf.mul(tf.matMul(q, k, false, true), this.scale); // [B·h,N,N]
      const mixed = tf.matMul(tf.softmax(scores, -1), v); // [B·h,N,d]
      const merged = tf.reshape(tf.transpose(tf.reshape(mixed, [b, this.heads, n, this.headDim]), [0, 2, 1, 3]), [b, n, c]);
      return this.proj.forward(merged as tf.Tensor3D);
    });
  }
}
