import * as tf from '@tensorflow/tfjs';
import { Rng } from '../rng.js';
import { ForwardContext, Module } from '../nn/module.js';
import { Conv2d, dropout } from '../nn/layers.js';
import { requirePositiveInt, requireRate } from './check.js';

const FILE = 'patch-embed.ts';

/**
 * Patch + position embeddings of LViT's ViT branch: the official `Embeddings` in `nets/Vit.py`
 * (HUANGLIZI/LViT @ a9b0b41; LVIT.md §1.4).
 *
 * x [B,H,W,C] -> Conv2d(C→C, kernel = stride = patch) -> [B,H/p,W/p,C] -> flatten row-major ->
 * [B,N,C] with N = (H/p)(W/p) -> + learned position embedding [1,N,C] (zero-initialised, as in the
 * code) -> dropout (0.1 in the code). Token n is grid cell (n / gridW, n % gridW), which matches
 * torch's `flatten(2).transpose(-1,-2)` of an NCHW map.
 */
export class PatchEmbeddings extends Module {
  readonly patch_embeddings: Conv2d;
  readonly position_embeddings: tf.Variable;
  readonly grid: number;
  readonly tokens: number;

  constructor(
    readonly channels: number,
    readonly imageSize: number,
    readonly patchSize: number,
    rng: Rng,
    readonly dropoutRate = 0.1,
  ) {
    super();
    requirePositiveInt(FILE, 'channels', channels);
    requirePositiveInt(FILE, 'imageSize', imageSize);
    requirePositiveInt(FILE, 'patchSize', patchSize);
    requireRate(FILE, 'dropoutRate', dropoutRate);
    if (imageSize % patchSize !== 0) {
      throw new Error(`${FILE}: imageSize ${imageSize} is not a multiple of patchSize ${patchSize}`);
    }
    this.grid = imageSize / patchSize;
    this.tokens = this.grid * this.grid;
    this.patch_embeddings = this.child(
      'patch_embeddings',
      new Conv2d(channels, channels, patchSize, rng, { stride: patchSize, padding: 'valid' }),
    );
    this.position_embeddings = this.param('position_embeddings', tf.zeros([1, this.tokens, channels]));
  }

  /** [B,H,W,C] -> [B,N,C] */
  forward(x: tf.Tensor4D, ctx: ForwardContext): tf.Tensor3D {
    const [b, h, w, c] = x.shape;
    if (h !== this.imageSize || w !== this.imageSize || c !== this.channels) {
      throw new Error(
        `${FILE}: input must be [B,${this.imageSize},${this.imageSize},${this.channels}], got [${x.shape.join(',')}]`,
      );
    }
    return tf.tidy(() => {
      const patches = this.patch_embeddings.forward(x); // [B,g,g,C]
      const tokens = tf.reshape(patches, [b, this.tokens, c]) as tf.Tensor3D;
      return dropout(tf.add(tokens, this.position_embeddings) as tf.Tensor3D, this.dropoutRate, ctx);
    });
  }
}
