import * as tf from '@tensorflow/tfjs';
import {
  BatchNorm,
  Conv2d,
  dropout,
  ForwardContext,
  GroupNorm,
  LayerNorm,
  Linear,
  Mlp,
  Module,
  ModuleList,
  Rng,
  SegmentationModel,
  StdConv2d,
  upsampleBilinear,
} from '@lvit-bench/core';

/**
 * TransUNet, R50-ViT-B/16 hybrid (Chen et al., "TransUNet: Transformers Make Strong Encoders for Medical
 * Image Segmentation", 2021, arXiv 2102.04306), block by block as the official network code
 * (Beckschen/TransUNet @ 02ef0010, `networks/vit_seg_modeling.py` + `vit_seg_modeling_resnet_skip.py`,
 * Apache-2.0; a copy is in shared/tools/torch-reference/transunet/; TRANSUNET.md has the block map).
 *
 * image [B,S,S,1|3] -> (grey repeated to 3 channels) -> ResNetV2 stem (root 7x7/2 StdConv + GN + ReLU,
 * MaxPool 3x3/2 pad 0, blocks of pre-activation bottlenecks, units (3,4,9)) -> [B,S/16,S/16,16w] and skips
 * [1/8 (8w), 1/4 (4w), 1/2 (w)] -> 1x1 patch embedding + position embedding -> 12 pre-norm transformer
 * blocks + encoder_norm -> [B,(S/16)²,hidden] -> DecoderCup (conv_more hidden->512, four DecoderBlocks:
 * bilinear x2 (align_corners), concat skip, 2 x Conv3x3+BN+ReLU) -> SegmentationHead Conv3x3 -> sigmoid.
 *
 * - Field names follow the official state dict (`transformer.embeddings.hybrid_model.body.block1.unit1.conv1.weight`,
 *   `transformer.encoder.layer.0.attn.query.weight`, `decoder.blocks.0.conv1.0.weight`, `segmentation_head.0.bias`),
 *   so a torch state dict or the ImageNet-21k `.npz` maps one to one (core's nn/torch-state-dict.ts). Layout is NHWC
 *   (conv weights [k,k,Cin,Cout], Linear [in,out]); upstream is NCHW.
 * - One output channel with a sigmoid (n_classes = 1), trained with the suite's WeightedDiceBCE like the other
 *   models: 105,275,921 parameters at 224 (the repo's n_classes = 2 gives 105,276,066).
 * - Only the token grid S/16 with patch size 1 is built, as the official train.py sets `patches.grid = S/16`;
 *   inputs must be square with S a multiple of 16 (the official DecoderCup assumes a square grid).
 * - Widths are config so reduced profiles keep every block: `widthFactor` (ResNet width 64·f, at least 0.5
 *   since GroupNorm uses 32 groups), `hiddenSize`/`numHeads`/`mlpDim`/`numLayers`, `headChannels` (512 in
 *   the official code, where it is not configurable) and `decoderChannels`.
 *
 * Example: `new TransUNet({ seed: 666 }).forward(x [2,224,224,3], null, { training: false })` → [2,224,224,1].
 */

const FILE = 'baselines/transunet.ts';

export interface TransUNetConfig {
  /** Input side S (square); the token grid is S/16 x S/16. Default 224. */
  imageSize?: number;
  /** Channels of the images fed in: 1 (repeated to 3, as the official forward) or 3. Default 3. */
  inChannels?: number;
  hiddenSize?: number;
  numLayers?: number;
  numHeads?: number;
  mlpDim?: number;
  /** Dropout after the position embedding and in the MLP (official 0.1); attention dropout is 0. */
  dropout?: number;
  /** Bottleneck units per ResNet block (official R50: 3, 4, 9). */
  resnetUnits?: [number, number, number];
  /** ResNet width = 64 · widthFactor (official 1). */
  widthFactor?: number;
  /** conv_more output channels (official 512, fixed in the code). */
  headChannels?: number;
  decoderChannels?: [number, number, number, number];
  /** Skips used by the decoder, 0..3 (official 3). */
  nSkip?: number;
  /** Output channels (the suite uses 1 with a sigmoid; the official repo 2 with a softmax). */
  nClasses?: number;
  seed: number;
}

export type ResolvedTransUNetConfig = Required<TransUNetConfig>;

/** The official R50-ViT-B_16 config (vit_seg_configs.get_r50_b16_config, n_classes 1, n_skip 3). */
export const TRANSUNET_R50_B16: Omit<ResolvedTransUNetConfig, 'seed'> = {
  imageSize: 224,
  inChannels: 3,
  hiddenSize: 768,
  numLayers: 12,
  numHeads: 12,
  mlpDim: 3072,
  dropout: 0.1,
  resnetUnits: [3, 4, 9],
  widthFactor: 1,
  headChannels: 512,
  decoderChannels: [256, 128, 64, 16],
  nSkip: 3,
  nClasses: 1,
};

function resolveConfig(config: TransUNetConfig): ResolvedTransUNetConfig {
  const c = { ...TRANSUNET_R50_B16, ...config } as ResolvedTransUNetConfig;
  const posInt = (name: string, v: number) => {
    if (!Number.isInteger(v) || v < 1) throw new Error(`${FILE}: ${name} must be a positive integer, got ${v}`);
  };
  posInt('imageSize', c.imageSize);
  if (c.imageSize % 16 !== 0) throw new Error(`${FILE}: imageSize ${c.imageSize} must be a multiple of 16 (nearest: ${Math.max(16, Math.round(c.imageSize / 16) * 16)})`);
  if (c.inChannels !== 1 && c.inChannels !== 3) throw new Error(`${FILE}: inChannels must be 1 or 3, got ${c.inChannels}`);
  for (const k of ['hiddenSize', 'numLayers', 'numHeads', 'mlpDim', 'headChannels', 'nClasses'] as const) posInt(k, c[k]);
  if (c.hiddenSize % c.numHeads !== 0) throw new Error(`${FILE}: hiddenSize ${c.hiddenSize} is not divisible by numHeads ${c.numHeads}`);
  if (!(c.dropout >= 0 && c.dropout < 1)) throw new Error(`${FILE}: dropout must be in [0, 1), got ${c.dropout}`);
  if (c.resnetUnits.length !== 3) throw new Error(`${FILE}: resnetUnits must list 3 blocks, got ${c.resnetUnits.length}`);
  c.resnetUnits.forEach((u, i) => posInt(`resnetUnits[${i}]`, u));
  const width = 64 * c.widthFactor;
  if (!Number.isInteger(width) || width % 32 !== 0) {
    throw new Error(`${FILE}: widthFactor ${c.widthFactor} gives width ${width}; GroupNorm(32, width) needs a multiple of 32 (widthFactor 0.5, 1, 1.5, ...)`);
  }
  if (c.decoderChannels.length !== 4) throw new Error(`${FILE}: decoderChannels must list 4 widths (one per DecoderBlock), got ${c.decoderChannels.length}`);
  c.decoderChannels.forEach((d, i) => posInt(`decoderChannels[${i}]`, d));
  if (!Number.isInteger(c.nSkip) || c.nSkip < 0 || c.nSkip > 3) throw new Error(`${FILE}: nSkip must be 0..3, got ${c.nSkip}`);
  return c;
}

// ---------------------------------------------------------------------------------------------
// vit_seg_modeling_resnet_skip.py: ResNetV2 hybrid stem
// ---------------------------------------------------------------------------------------------

/**
 * `PreActBottleneck` (the code, despite its name, is post-activation): y = relu(gn1(conv1 x));
 * y = relu(gn2(conv2 y)) (stride on conv2); y = gn3(conv3 y); out = relu(residual + y), residual =
 * gn_proj(downsample x) when stride != 1 or cin != cout. gn1..3: GroupNorm(32, ·, eps 1e-6); gn_proj:
 * GroupNorm(cout, cout) with the default eps 1e-5. [B,H,W,cin] -> [B,H/stride,W/stride,cout].
 */
export class PreActBottleneck extends Module {
  readonly gn1: GroupNorm;
  readonly conv1: StdConv2d;
  readonly gn2: GroupNorm;
  readonly conv2: StdConv2d;
  readonly gn3: GroupNorm;
  readonly conv3: StdConv2d;
  readonly downsample: StdConv2d | null = null;
  readonly gn_proj: GroupNorm | null = null;

  constructor(cin: number, cout: number, cmid: number, readonly stride: number, rng: Rng) {
    super();
    // Registration order as the official __init__ (state-dict order).
    this.gn1 = this.child('gn1', new GroupNorm(32, cmid, 1e-6));
    this.conv1 = this.child('conv1', new StdConv2d(cin, cmid, 1, rng, { bias: false, padding: 0 }));
    this.gn2 = this.child('gn2', new GroupNorm(32, cmid, 1e-6));
    this.conv2 = this.child('conv2', new StdConv2d(cmid, cmid, 3, rng, { bias: false, stride, padding: 1 }));
    this.gn3 = this.child('gn3', new GroupNorm(32, cout, 1e-6));
    this.conv3 = this.child('conv3', new StdConv2d(cmid, cout, 1, rng, { bias: false, padding: 0 }));
    if (stride !== 1 || cin !== cout) {
      this.downsample = this.child('downsample', new StdConv2d(cin, cout, 1, rng, { bias: false, stride, padding: 0 }));
      this.gn_proj = this.child('gn_proj', new GroupNorm(cout, cout));
    }
  }

  forward(x: tf.Tensor4D): tf.Tensor4D {
    return tf.tidy((): tf.Tensor4D => {
      const residual = this.downsample && this.gn_proj ? this.gn_proj.forward(this.downsample.forward(x)) : x;
      let y = tf.relu(this.gn1.forward(this.conv1.forward(x)));
      y = tf.relu(this.gn2.forward(this.conv2.forward(y)));
      y = this.gn3.forward(this.conv3.forward(y));
      return tf.relu(tf.add(residual, y) as tf.Tensor4D);
    });
  }
}

/** nn.Sequential of named units `unit1..unitN`. */
export class ResNetBlock extends Module {
  readonly units: PreActBottleneck[] = [];

  constructor(cin: number, cout: number, cmid: number, count: number, stride: number, rng: Rng) {
    super();
    for (let i = 1; i <= count; i++) {
      this.units.push(this.child(`unit${i}`, new PreActBottleneck(i === 1 ? cin : cout, cout, cmid, i === 1 ? stride : 1, rng)));
    }
  }

  forward(x: tf.Tensor4D): tf.Tensor4D {
    return this.units.reduce((h, u) => u.forward(h), x);
  }
}

/** `root`: StdConv2d 7x7/2 pad 3 (3 -> w, no bias) + GroupNorm(32, w, eps 1e-6) + ReLU. */
export class ResNetRoot extends Module {
  readonly conv: StdConv2d;
  readonly gn: GroupNorm;

  constructor(width: number, rng: Rng) {
    super();
    this.conv = this.child('conv', new StdConv2d(3, width, 7, rng, { bias: false, stride: 2, padding: 3 }));
    this.gn = this.child('gn', new GroupNorm(32, width, 1e-6));
  }

  /** [B,S,S,3] -> [B,S/2,S/2,w] */
  forward(x: tf.Tensor4D): tf.Tensor4D {
    return tf.relu(this.gn.forward(this.conv.forward(x)));
  }
}

export class ResNetBody extends Module {
  readonly block1: ResNetBlock;
  readonly block2: ResNetBlock;
  readonly block3: ResNetBlock;

  constructor(width: number, units: [number, number, number], rng: Rng) {
    super();
    this.block1 = this.child('block1', new ResNetBlock(width, width * 4, width, units[0], 1, rng));
    this.block2 = this.child('block2', new ResNetBlock(width * 4, width * 8, width * 2, units[1], 2, rng));
    this.block3 = this.child('block3', new ResNetBlock(width * 8, width * 16, width * 4, units[2], 2, rng));
  }
}

/** `ResNetV2`: x [B,S,S,3] -> [B,S/16,S/16,16w] and features [1/8 (8w), 1/4 (4w), 1/2 (w)]. */
export class ResNetV2 extends Module {
  readonly root: ResNetRoot;
  readonly body: ResNetBody;

  constructor(readonly width: number, units: [number, number, number], rng: Rng) {
    super();
    this.root = this.child('root', new ResNetRoot(width, rng));
    this.body = this.child('body', new ResNetBody(width, units, rng));
  }

  forward(x: tf.Tensor4D, tap?: (name: string, t: tf.Tensor) => void): { x: tf.Tensor4D; features: tf.Tensor4D[] } {
    const inSize = x.shape[1];
    const features: tf.Tensor4D[] = [];
    let h = this.root.forward(x); // [B,S/2,S/2,w]
    tap?.('hybrid.root', h);
    features.push(h);
    h = tf.maxPool(h, 3, 2, 'valid'); // MaxPool2d(3, 2, padding 0): [B,S/4-1,S/4-1,w] (floor((S/2-3)/2)+1)
    const blocks = [this.body.block1, this.body.block2];
    blocks.forEach((block, i) => {
      h = block.forward(h); // block1 [B,S/4-1,..,4w]; block2 [B,S/8,S/8,8w]
      tap?.(`hybrid.body.block${i + 1}`, h);
      const rightSize = Math.trunc(inSize / 4 / (i + 1));
      const pad = rightSize - h.shape[1];
      if (pad === 0) {
        features.push(h);
      } else {
        if (!(pad > 0 && pad < 3)) throw new Error(`${FILE}: ResNet feature ${h.shape[1]} should be ${rightSize}`);
        // The official code copies x into a zero map of the right size: zeros at the bottom/right.
        features.push(tf.pad(h, [[0, 0], [0, pad], [0, pad], [0, 0]]));
      }
    });
    h = this.body.block3.forward(h); // [B,S/16,S/16,16w]
    tap?.('hybrid.body.block3', h);
    return { x: h, features: features.reverse() };
  }
}

// ---------------------------------------------------------------------------------------------
// vit_seg_modeling.py: Embeddings, Attention, Block, Encoder, DecoderCup, SegmentationHead
// ---------------------------------------------------------------------------------------------

/** `Embeddings` (hybrid): ResNetV2, then patch_embeddings Conv2d(16w -> hidden, 1x1) + position_embeddings + dropout. */
export class Embeddings extends Module {
  readonly position_embeddings: tf.Variable;
  readonly hybrid_model: ResNetV2;
  readonly patch_embeddings: Conv2d;

  constructor(readonly c: ResolvedTransUNetConfig, rng: Rng) {
    super();
    const grid = c.imageSize / 16;
    this.position_embeddings = this.param('position_embeddings', tf.zeros([1, grid * grid, c.hiddenSize]));
    this.hybrid_model = this.child('hybrid_model', new ResNetV2(64 * c.widthFactor, c.resnetUnits, rng));
    // Patch size img/16/grid = 1: kernel = stride = 1.
    this.patch_embeddings = this.child('patch_embeddings', new Conv2d(this.hybrid_model.width * 16, c.hiddenSize, 1, rng, { padding: 'valid' }));
  }

  forward(x: tf.Tensor4D, ctx: ForwardContext, tap?: (name: string, t: tf.Tensor) => void): { tokens: tf.Tensor3D; features: tf.Tensor4D[] } {
    const { x: h, features } = this.hybrid_model.forward(x, tap);
    const p = this.patch_embeddings.forward(h); // [B,g,g,hidden]
    const [b, g, , hidden] = p.shape;
    const tokens = tf.add(tf.reshape(p, [b, g * g, hidden]), this.position_embeddings) as tf.Tensor3D; // [B,g²,hidden], row-major as flatten(2)
    return { tokens: dropout(tokens, this.c.dropout, ctx), features };
  }
}

/** `Attention`: separate query/key/value/out Linear(hidden, hidden); softmax(q kᵀ / sqrt(d)) v; dropout 0. [B,N,C] -> [B,N,C]. */
export class TransUNetAttention extends Module {
  readonly query: Linear;
  readonly key: Linear;
  readonly value: Linear;
  readonly out: Linear;
  readonly headDim: number;

  constructor(readonly hidden: number, readonly heads: number, rng: Rng) {
    super();
    this.headDim = hidden / heads;
    this.query = this.child('query', new Linear(hidden, hidden, rng));
    this.key = this.child('key', new Linear(hidden, hidden, rng));
    this.value = this.child('value', new Linear(hidden, hidden, rng));
    this.out = this.child('out', new Linear(hidden, hidden, rng));
  }

  forward(x: tf.Tensor3D): tf.Tensor3D {
    const [b, n, c] = x.shape;
    return tf.tidy(() => {
      // transpose_for_scores: [B,N,C] -> [B,h,N,d]
      const split = (t: tf.Tensor3D) => tf.reshape(tf.transpose(tf.reshape(t, [b, n, this.heads, this.headDim]), [0, 2, 1, 3]), [b * this.heads, n, this.headDim]) as tf.Tensor3D;
      const q = split(this.query.forward(x));
      const k = split(this.key.forward(x));
      const v = split(this.value.forward(x));
      const scores = tf.div(tf.matMul(q, k, false, true), Math.sqrt(this.headDim)); // [B·h,N,N]
      const context = tf.matMul(tf.softmax(scores, -1), v); // [B·h,N,d]
      const merged = tf.reshape(tf.transpose(tf.reshape(context, [b, this.heads, n, this.headDim]), [0, 2, 1, 3]), [b, n, c]);
      return this.out.forward(merged as tf.Tensor3D);
    });
  }
}

/** `Block` (pre-norm): x + attn(attention_norm(x)); x + ffn(ffn_norm(x)); LayerNorm eps 1e-6; Mlp fc1 -> exact GELU -> dropout -> fc2 -> dropout. */
export class TransUNetBlock extends Module {
  readonly attention_norm: LayerNorm;
  readonly ffn_norm: LayerNorm;
  readonly ffn: Mlp;
  readonly attn: TransUNetAttention;

  constructor(c: ResolvedTransUNetConfig, rng: Rng) {
    super();
    this.attention_norm = this.child('attention_norm', new LayerNorm(c.hiddenSize, 1e-6));
    this.ffn_norm = this.child('ffn_norm', new LayerNorm(c.hiddenSize, 1e-6));
    // The official Mlp: xavier_uniform weights, N(0, 1e-6) biases, no GELU after fc2 (core's Mlp with geluAfterFc2 false).
    this.ffn = this.child('ffn', new Mlp(c.hiddenSize, c.mlpDim, rng, { dropout: c.dropout, geluAfterFc2: false }));
    this.attn = this.child('attn', new TransUNetAttention(c.hiddenSize, c.numHeads, rng));
  }

  forward(x: tf.Tensor3D, ctx: ForwardContext): tf.Tensor3D {
    return tf.tidy(() => {
      const h = tf.add(x, this.attn.forward(this.attention_norm.forward(x))) as tf.Tensor3D;
      return tf.add(h, this.ffn.forward(this.ffn_norm.forward(h), ctx)) as tf.Tensor3D;
    });
  }
}

/** `Encoder`: `layer` (numLayers Blocks), then `encoder_norm` (LayerNorm eps 1e-6). */
export class Encoder extends Module {
  readonly layer: ModuleList<TransUNetBlock>;
  readonly encoder_norm: LayerNorm;

  constructor(c: ResolvedTransUNetConfig, rng: Rng) {
    super();
    this.layer = this.child('layer', new ModuleList(Array.from({ length: c.numLayers }, () => new TransUNetBlock(c, rng))));
    this.encoder_norm = this.child('encoder_norm', new LayerNorm(c.hiddenSize, 1e-6));
  }

  forward(x: tf.Tensor3D, ctx: ForwardContext, tap?: (name: string, t: tf.Tensor) => void): tf.Tensor3D {
    let h = x;
    this.layer.items.forEach((block, i) => {
      h = block.forward(h, ctx);
      tap?.(`encoder.layer.${i}`, h);
    });
    return this.encoder_norm.forward(h);
  }
}

/** `Transformer`: embeddings + encoder. */
export class Transformer extends Module {
  readonly embeddings: Embeddings;
  readonly encoder: Encoder;

  constructor(c: ResolvedTransUNetConfig, rng: Rng) {
    super();
    this.embeddings = this.child('embeddings', new Embeddings(c, rng));
    this.encoder = this.child('encoder', new Encoder(c, rng));
  }
}

/** `Conv2dReLU` (nn.Sequential: `0` Conv2d 3x3 pad 1 without bias, `1` BatchNorm2d, ReLU). [B,H,W,Cin] -> [B,H,W,Cout]. */
export class Conv2dReLU extends Module {
  readonly conv: Conv2d;
  readonly bn: BatchNorm;

  constructor(cin: number, cout: number, rng: Rng) {
    super();
    this.conv = this.child('0', new Conv2d(cin, cout, 3, rng, { padding: 1, bias: false }));
    this.bn = this.child('1', new BatchNorm(cout));
  }

  forward(x: tf.Tensor4D, ctx: ForwardContext): tf.Tensor4D {
    return this.bn.forward(this.conv.forward(x), ctx, 'relu');
  }
}

/** `DecoderBlock`: UpsamplingBilinear2d x2 (align_corners) -> concat [x, skip] -> conv1 -> conv2. [B,h,h,in] -> [B,2h,2h,out]. */
export class DecoderBlock extends Module {
  readonly conv1: Conv2dReLU;
  readonly conv2: Conv2dReLU;

  constructor(cin: number, cout: number, readonly skipChannels: number, rng: Rng) {
    super();
    this.conv1 = this.child('conv1', new Conv2dReLU(cin + skipChannels, cout, rng));
    this.conv2 = this.child('conv2', new Conv2dReLU(cout, cout, rng));
  }

  forward(x: tf.Tensor4D, skip: tf.Tensor4D | null, ctx: ForwardContext): tf.Tensor4D {
    return tf.tidy(() => {
      const up = upsampleBilinear(x, 2);
      const cat = skip ? tf.concat([up, skip], 3) : up;
      return this.conv2.forward(this.conv1.forward(cat, ctx), ctx);
    });
  }
}

/** `DecoderCup`: tokens [B,g²,hidden] -> [B,g,g,hidden] -> conv_more -> 4 DecoderBlocks -> [B,16g,16g,dec[3]]. */
export class DecoderCup extends Module {
  readonly conv_more: Conv2dReLU;
  readonly blocks: ModuleList<DecoderBlock>;

  constructor(readonly c: ResolvedTransUNetConfig, rng: Rng) {
    super();
    this.conv_more = this.child('conv_more', new Conv2dReLU(c.hiddenSize, c.headChannels, rng));
    const w = 64 * c.widthFactor;
    // Official config.skip_channels [512, 256, 64, 16] = [8w, 4w, w, ·] at w = 64; entries past n_skip are 0.
    const skips = [8 * w, 4 * w, w, 16].map((s, i) => (i < c.nSkip ? s : 0));
    const ins = [c.headChannels, ...c.decoderChannels.slice(0, 3)];
    this.blocks = this.child('blocks', new ModuleList(c.decoderChannels.map((out, i) => new DecoderBlock(ins[i], out, skips[i], rng))));
  }

  forward(tokens: tf.Tensor3D, features: tf.Tensor4D[], ctx: ForwardContext, tap?: (name: string, t: tf.Tensor) => void): tf.Tensor4D {
    const [b, n, hidden] = tokens.shape;
    const g = Math.round(Math.sqrt(n));
    let x = this.conv_more.forward(tf.reshape(tokens, [b, g, g, hidden]), ctx); // [B,g,g,head]
    tap?.('decoder.conv_more', x);
    this.blocks.items.forEach((block, i) => {
      x = block.forward(x, i < this.c.nSkip ? features[i] : null, ctx); // [B,2^(i+1)g,..,dec[i]]
      tap?.(`decoder.blocks.${i}`, x);
    });
    return x;
  }
}

export class TransUNet extends Module implements SegmentationModel {
  readonly name = 'transunet';
  readonly usesText = false;
  readonly config: ResolvedTransUNetConfig;
  readonly transformer: Transformer;
  readonly decoder: DecoderCup;
  /** `SegmentationHead` (nn.Sequential `0`: Conv2d 3x3 pad 1 with bias; no upsampling at patch size 1). */
  readonly segmentation_head: SegmentationHeadModule;

  constructor(config: TransUNetConfig) {
    super();
    this.config = resolveConfig(config);
    const rng = new Rng(this.config.seed);
    this.transformer = this.child('transformer', new Transformer(this.config, rng));
    this.decoder = this.child('decoder', new DecoderCup(this.config, rng));
    this.segmentation_head = this.child('segmentation_head', new SegmentationHeadModule(this.config.decoderChannels[3], this.config.nClasses, rng));
  }

  checkInputShape(image: tf.Tensor4D): void {
    const [, h, w, ch] = image.shape;
    const s = this.config.imageSize;
    if (h !== s || w !== s || ch !== this.config.inChannels) {
      throw new Error(`${FILE}: input [B,${h},${w},${ch}] must be [B,${s},${s},${this.config.inChannels}] (imageSize ${s}, a multiple of 16; position embeddings are sized for it)`);
    }
  }

  /**
   * image [B,S,S,inC] -> logits [B,S,S,nClasses]. `tap` (tests) receives the block outputs under the
   * official module names (`hybrid.root`, `embeddings`, `encoder.layer.i`, `encoder_norm`, `decoder.blocks.i`, ...).
   */
  logits(image: tf.Tensor4D, ctx: ForwardContext, tap?: (name: string, t: tf.Tensor) => void): tf.Tensor4D {
    this.checkInputShape(image);
    return tf.tidy(() => {
      const x = image.shape[3] === 1 ? tf.tile(image, [1, 1, 1, 3]) : image; // x.repeat(1,3,1,1)
      const { tokens, features } = this.transformer.embeddings.forward(x, ctx, tap); // [B,g²,hidden]; skips
      tap?.('embeddings', tokens);
      const encoded = this.transformer.encoder.forward(tokens, ctx, tap); // [B,g²,hidden]
      tap?.('encoder_norm', encoded);
      const decoded = this.decoder.forward(encoded, features, ctx, tap); // [B,S,S,dec[3]]
      const out = this.segmentation_head.forward(decoded); // [B,S,S,nClasses]
      tap?.('segmentation_head', out);
      return out;
    });
  }

  /** image [B,S,S,inC] in [0,1] -> [B,S,S,nClasses] probabilities (sigmoid). `text` is ignored. */
  forward(image: tf.Tensor4D, _text: tf.Tensor3D | null, ctx: ForwardContext): tf.Tensor4D {
    return tf.tidy(() => tf.sigmoid(this.logits(image, ctx)));
  }
}

export class SegmentationHeadModule extends Module {
  readonly conv: Conv2d;

  constructor(cin: number, cout: number, rng: Rng) {
    super();
    this.conv = this.child('0', new Conv2d(cin, cout, 3, rng, { padding: 1 }));
  }

  forward(x: tf.Tensor4D): tf.Tensor4D {
    return this.conv.forward(x);
  }
}
