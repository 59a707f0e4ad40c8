import * as tf from '@tensorflow/tfjs';
import { Rng } from '../rng.js';
import { ForwardContext, Module } from '../nn/module.js';
import { Linear, dropout } from '../nn/layers.js';
import { requirePositiveInt, requireRate } from './check.js';

const FILE = 'mlp.ts';

/** Exact (erf) GELU, as torch's `nn.GELU()` default: 0.5·x·(1 + erf(x/√2)). */
export function gelu<T extends tf.Tensor>(x: T): T {
  return tf.tidy(() => tf.mul(tf.mul(x, 0.5), tf.add(tf.erf(tf.mul(x, Math.SQRT1_2)), 1)) as T);
}

/**
 * Token MLP of LViT's ViT branch: the official `MLP` in `nets/Vit.py` (HUANGLIZI/LViT @ a9b0b41;
 * LVIT.md §1.4).
 *
 * x [B,N,C] -> fc1 C→hidden -> GELU -> dropout -> fc2 hidden→C -> **GELU** -> dropout -> [B,N,C].
 * The GELU after fc2 is in the official code (timm's ViT MLP has none); `geluAfterFc2: false`
 * gives the usual ViT MLP. Init as the code's `_init_weights`: xavier-uniform weights, N(0, 1e-6)
 * biases. Dropout is 0.1 in the code.
 */
export class Mlp extends Module {
  readonly fc1: Linear;
  readonly fc2: Linear;
  readonly dropoutRate: number;
  readonly geluAfterFc2: boolean;

  constructor(
    readonly dim: number,
    readonly hiddenDim: number,
    rng: Rng,
    opts: { dropout?: number; geluAfterFc2?: boolean } = {},
  ) {
    super();
    requirePositiveInt(FILE, 'dim', dim);
    requirePositiveInt(FILE, 'hiddenDim', hiddenDim);
    this.dropoutRate = opts.dropout ?? 0.1;
    requireRate(FILE, 'dropout', this.dropoutRate);
    this.geluAfterFc2 = opts.geluAfterFc2 ?? true;
    this.fc1 = this.child('fc1', new Linear(dim, hiddenDim, rng, { init: 'xavier' }));
    this.fc2 = this.child('fc2', new Linear(hiddenDim, dim, rng, { init: 'xavier' }));
  }

  /** [B,N,C] -> [B,N,C] */
  forward(x: tf.Tensor3D, ctx: ForwardContext): tf.Tensor3D {
    if (x.shape[2] !== this.dim) throw new Error(`${FILE}: input must be [B,N,${this.dim}], got [${x.shape.join(',')}]`);
    return tf.tidy(() => {
      const hidden = dropout(gelu(this.fc1.forward(x)), this.dropoutRate, ctx);
      const out = this.fc2.forward(hidden);
      return dropout(this.geluAfterFc2 ? gelu(out) : out, this.dropoutRate, ctx);
    });
  }
}
