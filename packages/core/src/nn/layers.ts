import * as tf from '@tensorflow/tfjs';
import { Rng } from '../rng.js';
import { batchNormTrain, type BatchNormActivation } from './batch-norm-train.js';
import { ForwardContext, Module, normalTensor, uniformTensor } from './module.js';

/**
 * Layers with PyTorch's default initialisation (kaiming_uniform(a=sqrt(5)) weights, i.e.
 * U(±1/sqrt(fan_in)), and U(±1/sqrt(fan_in)) biases), so a fresh model starts where the official
 * code's does. All tensors are channels-last.
 */

/** 2-D convolution. x [B,H,W,Cin] -> [B,H',W',Cout]. Weight [k,k,Cin,Cout]. */
export class Conv2d extends Module {
  readonly weight: tf.Variable;
  readonly bias: tf.Variable | null;

  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    readonly kernelSize: number,
    rng: Rng,
    readonly opts: { stride?: number; padding?: 'same' | 'valid' | number; bias?: boolean } = {},
  ) {
    super();
    const fanIn = inChannels * kernelSize * kernelSize;
    const bound = 1 / Math.sqrt(fanIn);
    this.weight = this.param('weight', uniformTensor([kernelSize, kernelSize, inChannels, outChannels], bound, rng));
    this.bias = opts.bias === false ? null : this.param('bias', uniformTensor([outChannels], bound, rng));
  }

  forward(x: tf.Tensor4D, activation: 'linear' | 'relu' = 'linear'): tf.Tensor4D {
    const stride = this.opts.stride ?? 1;
    const pad = this.opts.padding ?? 'same';
    return tf.fused.conv2d({
      x,
      filter: this.weight as tf.Tensor4D,
      strides: stride,
      pad,
      bias: this.bias ?? undefined,
      activation,
    });
  }
}

/** Transposed 2-D convolution with kernel = stride (the U-Net up path). [B,H,W,Cin] -> [B,sH,sW,Cout]. */
export class ConvTranspose2d extends Module {
  readonly weight: tf.Variable;
  readonly bias: tf.Variable;

  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    readonly kernelSize: number,
    readonly stride: number,
    rng: Rng,
  ) {
    super();
    // torch computes fan_in of ConvTranspose2d from weight dim 1 (= out channels) x k x k.
    const bound = 1 / Math.sqrt(outChannels * kernelSize * kernelSize);
    this.weight = this.param('weight', uniformTensor([kernelSize, kernelSize, outChannels, inChannels], bound, rng));
    this.bias = this.param('bias', uniformTensor([outChannels], bound, rng));
  }

  forward(x: tf.Tensor4D): tf.Tensor4D {
    const [b, h, w] = x.shape;
    const out = tf.conv2dTranspose(
      x,
      this.weight as tf.Tensor4D,
      [b, h * this.stride, w * this.stride, this.outChannels],
      this.stride,
      'valid',
    );
    return tf.add(out, this.bias);
  }
}

/** 1-D convolution along the sequence axis. x [B,L,Cin] -> [B,L,Cout]. Weight [k,Cin,Cout]. */
export class Conv1d extends Module {
  readonly weight: tf.Variable;
  readonly bias: tf.Variable;

  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    readonly kernelSize: number,
    rng: Rng,
  ) {
    super();
    const bound = 1 / Math.sqrt(inChannels * kernelSize);
    this.weight = this.param('weight', uniformTensor([kernelSize, inChannels, outChannels], bound, rng));
    this.bias = this.param('bias', uniformTensor([outChannels], bound, rng));
  }

  forward(x: tf.Tensor3D): tf.Tensor3D {
    return tf.add(tf.conv1d(x, this.weight as tf.Tensor3D, 1, 'same'), this.bias);
  }
}

/** Fully connected layer on the last axis. Weight [in,out]. */
export class Linear extends Module {
  readonly weight: tf.Variable;
  readonly bias: tf.Variable | null;

  constructor(
    readonly inFeatures: number,
    readonly outFeatures: number,
    rng: Rng,
    opts: { bias?: boolean; init?: 'torch' | 'xavier' } = {},
  ) {
    super();
    if (opts.init === 'xavier') {
      // timm/ViT MLP init: xavier_uniform weights, N(0, 1e-6) biases.
      const bound = Math.sqrt(6 / (inFeatures + outFeatures));
      this.weight = this.param('weight', uniformTensor([inFeatures, outFeatures], bound, rng));
      this.bias = opts.bias === false ? null : this.param('bias', normalTensor([outFeatures], 1e-6, rng));
    } else {
      const bound = 1 / Math.sqrt(inFeatures);
      this.weight = this.param('weight', uniformTensor([inFeatures, outFeatures], bound, rng));
      this.bias = opts.bias === false ? null : this.param('bias', uniformTensor([outFeatures], bound, rng));
    }
  }

  forward<T extends tf.Tensor>(x: T): T {
    const shape = x.shape;
    const flat = tf.reshape(x, [-1, this.inFeatures]) as tf.Tensor2D;
    const y = tf.matMul(flat, this.weight as tf.Tensor2D);
    const withBias = this.bias ? tf.add(y, this.bias) : y;
    return tf.reshape(withBias, [...shape.slice(0, -1), this.outFeatures]) as T;
  }
}

/**
 * Batch normalisation over the last (channel) axis, statistics over all other axes: BatchNorm2d on
 * [B,H,W,C], BatchNorm1d on [B,L,C]. torch semantics: momentum 0.1, eps 1e-5, biased variance to
 * normalise, unbiased variance in the running estimate.
 */
export class BatchNorm extends Module {
  readonly gamma: tf.Variable;
  readonly beta: tf.Variable;
  readonly runningMean: tf.Variable;
  readonly runningVar: tf.Variable;

  constructor(
    readonly channels: number,
    readonly eps = 1e-5,
    readonly momentum = 0.1,
  ) {
    super();
    this.gamma = this.param('weight', tf.ones([channels]));
    this.beta = this.param('bias', tf.zeros([channels]));
    this.runningMean = this.buffer('running_mean', tf.zeros([channels]));
    this.runningVar = this.buffer('running_var', tf.ones([channels]));
  }

  /** `activation` 'relu' returns relu(bn(x)) (one fused kernel in training where the backend has it). */
  forward<T extends tf.Tensor>(x: T, ctx: ForwardContext, activation: BatchNormActivation = 'linear'): T {
    if (!ctx.training) {
      const y = tf.batchNorm(x, this.runningMean, this.runningVar, this.beta, this.gamma, this.eps) as T;
      return activation === 'relu' ? (tf.relu(y) as T) : y;
    }
    const { y, mean, variance } = batchNormTrain(x, this.gamma as tf.Tensor1D, this.beta as tf.Tensor1D, this.eps, activation);
    const n = x.size / this.channels;
    // The running-statistics update is outside the loss, so no gradient flows through it.
    tf.tidy(() => {
      const m = this.momentum;
      const unbiased = tf.mul(variance, n / Math.max(n - 1, 1));
      this.runningMean.assign(tf.add(tf.mul(this.runningMean, 1 - m), tf.mul(mean, m)));
      this.runningVar.assign(tf.add(tf.mul(this.runningVar, 1 - m), tf.mul(unbiased, m)));
    });
    tf.dispose([mean, variance]);
    return y;
  }
}

/** LayerNorm over the last axis (torch default eps 1e-5). */
export class LayerNorm extends Module {
  readonly gamma: tf.Variable;
  readonly beta: tf.Variable;

  constructor(
    readonly features: number,
    readonly eps = 1e-5,
  ) {
    super();
    this.gamma = this.param('weight', tf.ones([features]));
    this.beta = this.param('bias', tf.zeros([features]));
  }

  forward<T extends tf.Tensor>(x: T): T {
    const { mean, variance } = tf.moments(x, -1, true);
    const normed = tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, this.eps)));
    return tf.add(tf.mul(normed, this.gamma), this.beta) as T;
  }
}

/** Inverted dropout; identity in eval mode or without an rng. */
export function dropout<T extends tf.Tensor>(x: T, rate: number, ctx: ForwardContext): T {
  if (!ctx.training || rate <= 0 || !ctx.rng) return x;
  const keep = new Float32Array(x.size);
  const scale = 1 / (1 - rate);
  ctx.rng.fillBernoulliZeros(keep, rate, scale);
  return tf.mul(x, tf.tensor(keep, x.shape)) as T;
}

/** 2x2 max pooling, stride 2. */
export function maxPool2x2(x: tf.Tensor4D): tf.Tensor4D {
  return tf.maxPool(x, 2, 2, 'valid');
}

/** Nearest-neighbour upsampling by an integer factor (torch nn.Upsample(scale_factor, 'nearest')). */
export function upsampleNearest(x: tf.Tensor4D, factor: number): tf.Tensor4D {
  if (factor === 1) return x;
  const [, h, w] = x.shape;
  return tf.image.resizeNearestNeighbor(x, [h * factor, w * factor]);
}

/**
 * GroupNorm over channels-last tensors (torch `nn.GroupNorm(groups, channels, eps)`): channels are split
 * into `groups` contiguous groups (group g holds channels g·C/G .. (g+1)·C/G-1, as torch), each
 * normalised over its channels and all spatial positions of one sample with the biased variance, then
 * a per-channel affine (`weight`, `bias`; ones and zeros at init). x [B,H,W,C] -> [B,H,W,C].
 */
export class GroupNorm extends Module {
  readonly gamma: tf.Variable;
  readonly beta: tf.Variable;

  constructor(
    readonly groups: number,
    readonly channels: number,
    readonly eps = 1e-5,
  ) {
    super();
    if (!Number.isInteger(groups) || groups < 1 || !Number.isInteger(channels) || channels % groups !== 0) {
      throw new Error(`layers.ts: GroupNorm needs channels (${channels}) divisible by groups (${groups})`);
    }
    this.gamma = this.param('weight', tf.ones([channels]));
    this.beta = this.param('bias', tf.zeros([channels]));
  }

  forward(x: tf.Tensor4D): tf.Tensor4D {
    const [b, h, w, c] = x.shape;
    if (c !== this.channels) throw new Error(`layers.ts: GroupNorm(${this.groups}, ${this.channels}) got [${x.shape.join(',')}]`);
    return tf.tidy(() => {
      const g = tf.reshape(x, [b, h * w, this.groups, c / this.groups]);
      const { mean, variance } = tf.moments(g, [1, 3], true);
      const normed = tf.reshape(tf.mul(tf.sub(g, mean), tf.rsqrt(tf.add(variance, this.eps))), [b, h, w, c]);
      return tf.add(tf.mul(normed, this.gamma), this.beta) as tf.Tensor4D;
    });
  }
}

/**
 * Weight-standardised convolution (BiT's `StdConv2d`, as in TransUNet's `vit_seg_modeling_resnet_skip.py`):
 * before every convolution each output channel's kernel is standardised over (kh, kw, Cin) with the biased
 * variance, w' = (w - mean) / sqrt(var + 1e-5). Same fields, init and padding rules as `Conv2d`
 * (use a number `padding` for torch's symmetric padding at stride 2). x [B,H,W,Cin] -> [B,H',W',Cout].
 */
export class StdConv2d extends Conv2d {
  readonly stdEps = 1e-5;

  standardizedWeight(): tf.Tensor4D {
    return tf.tidy(() => {
      const { mean, variance } = tf.moments(this.weight, [0, 1, 2], true);
      return tf.div(tf.sub(this.weight, mean), tf.sqrt(tf.add(variance, this.stdEps))) as tf.Tensor4D;
    });
  }

  override forward(x: tf.Tensor4D, activation: 'linear' | 'relu' = 'linear'): tf.Tensor4D {
    return tf.tidy(() =>
      tf.fused.conv2d({
        x,
        filter: this.standardizedWeight(),
        strides: this.opts.stride ?? 1,
        pad: this.opts.padding ?? 'same',
        bias: this.bias ?? undefined,
        activation,
      }),
    );
  }
}

/**
 * Bilinear upsampling by an integer factor with torch's `nn.UpsamplingBilinear2d` semantics, i.e.
 * `align_corners=True`: output pixel o samples input coordinate o·(in-1)/(out-1).
 * x [B,H,W,C] -> [B,fH,fW,C].
 */
export function upsampleBilinear(x: tf.Tensor4D, factor: number): tf.Tensor4D {
  if (factor === 1) return x;
  const [, h, w] = x.shape;
  return tf.image.resizeBilinear(x, [h * factor, w * factor], true);
}
