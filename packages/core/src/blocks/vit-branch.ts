import * as tf from '@tensorflow/tfjs';
import { Rng } from '../rng.js';
import { ForwardContext, Module, ModuleList } from '../nn/module.js';
import { ConvTransBN } from './conv-trans-bn.js';
import { PatchEmbeddings } from './patch-embed.js';
import { TransformerBlock } from './transformer-block.js';
import { requirePositiveInt, requireRate } from './check.js';

const FILE = 'vit-branch.ts';

/**
 * What one of LViT's eight `VisionTransformer` instances does in the official forward
 * (`nets/Vit.py` l.174-195, HUANGLIZI/LViT @ a9b0b41; LVIT.md §1.4). Upstream picks the branch
 * with `self.dim == 64` / `self.dim == 512` and the `reconstruct` flag; here the role is explicit,
 * so a reduced-width LViT keeps the same wiring.
 * - 'down-text' (`downVit`, level 1): y = Block(Emb(x) + CTBN3(text)). The only place text enters.
 * - 'down' (`downVit1..3`): y = concat(CTBN(Block(Emb(x))), y_prev) on features. The text
 *   argument these instances receive upstream is never read.
 * - 'up-deepest' (`upVit3`): y' = Block(y).
 * - 'up' (`upVit..upVit2`): y' = Block(y) + CTBN2(y'_deeper). Up instances never embed patches.
 */
export type VitBranchRole = 'down-text' | 'down' | 'up-deepest' | 'up';

export interface VitBranchOptions {
  role: VitBranchRole;
  /** Embedding width C = the CNN channels at this level (embed_dim = channel_num upstream). */
  dim: number;
  /** Side of the CNN feature map fed to the patch embedding (down roles). */
  featureSize: number;
  /** Patch size (down roles); featureSize / patchSize is the token grid side. */
  patchSize: number;
  /** Number of tokens N (the CTBN3 output channels; 196 upstream). */
  tokens: number;
  heads?: number;
  mlpRatio?: number;
  /** Embedding and MLP dropout (0.1 upstream). */
  dropout?: number;
  /** Transformer blocks (1 upstream). */
  depth?: number;
  /** 'down-text' only: number of text tokens T (10 upstream), or null to build no CTBN3 (LViT-TW). */
  textTokens?: number | null;
}

/**
 * One ViT-branch instance of LViT, built with only the parts its role reaches in the official
 * forward. Upstream every instance also registers `norm`, `head`, all three of CTBN/CTBN2/CTBN3
 * and (in up instances) unused `embeddings`; those are not built here (LVIT.md §1.7).
 * Child names (`embeddings`, `Encoder_blocks.0`, `CTBN`, `CTBN2`, `CTBN3`) follow the official
 * state dict. Tokens are [B,N,C].
 */
export class VitBranch extends Module {
  readonly role: VitBranchRole;
  readonly dim: number;
  readonly tokens: number;
  readonly embeddings: PatchEmbeddings | null;
  readonly Encoder_blocks: ModuleList<TransformerBlock>;
  readonly CTBN: ConvTransBN | null;
  readonly CTBN2: ConvTransBN | null;
  readonly CTBN3: ConvTransBN | null;

  constructor(opts: VitBranchOptions, rng: Rng) {
    super();
    const { role, dim, featureSize, patchSize, tokens } = opts;
    const dropout = opts.dropout ?? 0.1;
    requirePositiveInt(FILE, 'dim', dim);
    requirePositiveInt(FILE, 'tokens', tokens);
    requirePositiveInt(FILE, 'depth', opts.depth ?? 1);
    requireRate(FILE, 'dropout', dropout);
    if (role === 'down' && dim % 2 !== 0) throw new Error(`${FILE}: a 'down' branch needs an even dim, got ${dim}`);
    this.role = role;
    this.dim = dim;
    this.tokens = tokens;
    const isDown = role === 'down-text' || role === 'down';
    this.embeddings = isDown
      ? this.child('embeddings', new PatchEmbeddings(dim, featureSize, patchSize, rng, dropout))
      : null;
    if (this.embeddings && this.embeddings.tokens !== tokens) {
      throw new Error(`${FILE}: featureSize ${featureSize} / patchSize ${patchSize} gives ${this.embeddings.tokens} tokens, expected ${tokens}`);
    }
    const blocks = Array.from(
      { length: opts.depth ?? 1 },
      () => new TransformerBlock(dim, opts.heads ?? 8, rng, { mlpRatio: opts.mlpRatio ?? 4, dropout }),
    );
    this.Encoder_blocks = this.child('Encoder_blocks', new ModuleList(blocks));
    this.CTBN = role === 'down' ? this.child('CTBN', new ConvTransBN(dim, dim / 2, rng)) : null;
    this.CTBN2 = role === 'up' ? this.child('CTBN2', new ConvTransBN(dim * 2, dim, rng)) : null;
    const textTokens = opts.textTokens ?? null;
    if (textTokens !== null) requirePositiveInt(FILE, 'textTokens', textTokens);
    this.CTBN3 =
      role === 'down-text' && textTokens !== null
        ? this.child('CTBN3', new ConvTransBN(textTokens, tokens, rng, 'channels-first'))
        : null;
  }

  private runBlocks(x: tf.Tensor3D, ctx: ForwardContext): tf.Tensor3D {
    return this.Encoder_blocks.items.reduce((h, block) => block.forward(h, ctx), x);
  }

  /**
   * Encoder side ('down-text' / 'down').
   * @param x CNN feature map [B,S,S,C] (S = featureSize)
   * @param skip 'down': the previous level's tokens y_{l-1} [B,N,C/2]; 'down-text': ignored
   * @param text 'down-text' with CTBN3: projected text [B,T,C]; otherwise ignored
   * @returns 'down-text': [B,N,C]; 'down': concat(CTBN(Block(Emb(x))) [B,N,C/2], skip) = [B,N,C]
   */
  forwardDown(x: tf.Tensor4D, skip: tf.Tensor3D | null, text: tf.Tensor3D | null, ctx: ForwardContext): tf.Tensor3D {
    if (!this.embeddings) throw new Error(`${FILE}: forwardDown called on a '${this.role}' branch`);
    const embeddings = this.embeddings;
    return tf.tidy(() => {
      let tokens = embeddings.forward(x, ctx); // [B,N,C]
      if (this.role === 'down-text') {
        if (this.CTBN3) {
          if (!text) throw new Error(`${FILE}: this branch mixes in text (CTBN3) but text is null`);
          tokens = tf.add(tokens, this.CTBN3.forward(text, ctx)) as tf.Tensor3D; // CTBN3: [B,T,C] -> [B,N,C]
        }
        return this.runBlocks(tokens, ctx);
      }
      if (!skip) throw new Error(`${FILE}: a 'down' branch needs the previous level's tokens`);
      const own = this.CTBN!.forward(this.runBlocks(tokens, ctx), ctx); // [B,N,C/2]
      if (skip.shape[1] !== own.shape[1] || skip.shape[2] !== this.dim / 2) {
        throw new Error(`${FILE}: skip tokens must be [B,${this.tokens},${this.dim / 2}], got [${skip.shape.join(',')}]`);
      }
      return tf.concat([own, skip], -1) as tf.Tensor3D;
    });
  }

  /**
   * Decoder side ('up-deepest' / 'up').
   * @param y this level's encoder tokens [B,N,C]
   * @param deeper 'up': the refined tokens of the next deeper level [B,N,2C]; 'up-deepest': ignored
   * @returns [B,N,C]
   */
  forwardUp(y: tf.Tensor3D, deeper: tf.Tensor3D | null, ctx: ForwardContext): tf.Tensor3D {
    if (this.role !== 'up' && this.role !== 'up-deepest') {
      throw new Error(`${FILE}: forwardUp called on a '${this.role}' branch`);
    }
    if (y.rank !== 3 || y.shape[1] !== this.tokens || y.shape[2] !== this.dim) {
      throw new Error(`${FILE}: tokens must be [B,${this.tokens},${this.dim}], got [${y.shape.join(',')}]`);
    }
    return tf.tidy(() => {
      const refined = this.runBlocks(y, ctx);
      if (this.role === 'up-deepest') return refined;
      if (!deeper) throw new Error(`${FILE}: an 'up' branch needs the deeper level's tokens`);
      return tf.add(refined, this.CTBN2!.forward(deeper, ctx)) as tf.Tensor3D; // CTBN2: [B,N,2C] -> [B,N,C]
    });
  }
}
