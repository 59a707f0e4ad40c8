import * as tf from '@tensorflow/tfjs';
import { Rng } from '../../rng.js';
import { ForwardContext, Module, ModuleList } from '../../nn/module.js';
import { Conv2d, ConvTranspose2d } from '../../nn/layers.js';
import { ConvBatchNorm, ConvStack, DownBlock } from '../../blocks/conv-bn-relu.js';

/**
 * The U-Net of the torch reference script's `--arch official` (shared/tools/torch-reference/
 * unet_step.py), built from core's blocks, with LViT's loss and a plain-op Adam. It exists so the
 * onnxruntime backend can be profiled, tested and benchmarked on the exact step PyTorch is timed on,
 * independently of the baselines package. NHWC throughout.
 */
export class BenchUNet extends Module {
  readonly inc: ConvBatchNorm;
  readonly downs: ModuleList<DownBlock>;
  readonly ups: ModuleList<ConvTranspose2d>;
  readonly upConvs: ModuleList<ConvStack>;
  readonly head: Conv2d;

  constructor(base: number, rng: Rng, inChannels = 3) {
    super();
    const b = base;
    this.inc = this.child('inc', new ConvBatchNorm(inChannels, b, rng));
    const downPairs: [number, number][] = [[b, 2 * b], [2 * b, 4 * b], [4 * b, 8 * b], [8 * b, 8 * b]];
    this.downs = this.child('downs', new ModuleList(downPairs.map(([i, o]) => new DownBlock(i, o, rng))));
    const upPairs: [number, number][] = [[16 * b, 4 * b], [8 * b, 2 * b], [4 * b, b], [2 * b, b]];
    this.ups = this.child('ups', new ModuleList(upPairs.map(([i]) => new ConvTranspose2d(i / 2, i / 2, 2, 2, rng))));
    this.upConvs = this.child('upConvs', new ModuleList(upPairs.map(([i, o]) => new ConvStack(i, o, 2, rng))));
    this.head = this.child('head', new Conv2d(b, 1, 1, rng));
  }

  /** [B,H,W,3] -> sigmoid probabilities [B,H,W,1]. */
  forward(x: tf.Tensor4D, ctx: ForwardContext): tf.Tensor4D {
    const skips = [this.inc.forward(x, ctx)];
    for (const d of this.downs.items) skips.push(d.forward(skips[skips.length - 1], ctx));
    let h = skips.pop() as tf.Tensor4D;
    this.ups.items.forEach((up, i) => {
      const skip = skips.pop() as tf.Tensor4D;
      h = this.upConvs.items[i].forward(tf.concat([up.forward(h), skip], 3), ctx);
    });
    return tf.sigmoid(this.head.forward(h));
  }
}

/**
 * LViT's loss as in the reference script: 0.5 soft Dice (squared denominator) + 0.5 class-balanced
 * BCE on probabilities (torch clamps log at -100). p, t [B,H,W,1].
 */
export function lvitLoss(p: tf.Tensor4D, t: tf.Tensor4D): tf.Scalar {
  return tf.tidy(() => {
    const b = p.shape[0];
    const pf = tf.reshape(p, [b, -1]);
    const tf_ = tf.reshape(t, [b, -1]);
    const inter = tf.sum(tf.mul(pf, tf_), 1);
    const denom = tf.add(tf.add(tf.sum(tf.mul(pf, pf), 1), tf.sum(tf.mul(tf_, tf_), 1)), 4e-5);
    const dice = tf.sub(1, tf.div(tf.add(tf.mul(inter, 2), 4e-5), denom));
    const logP = tf.maximum(tf.log(pf), -100);
    const log1mP = tf.maximum(tf.log(tf.sub(1, pf)), -100);
    const bce = tf.neg(tf.add(tf.mul(tf_, logP), tf.mul(tf.sub(1, tf_), log1mP)));
    const pos = tf.cast(tf.greater(tf_, 0.5), 'float32');
    const neg = tf.sub(1, pos);
    const posTerm = tf.div(tf.sum(tf.mul(bce, pos)), tf.add(tf.sum(pos), 1e-12));
    const negTerm = tf.div(tf.sum(tf.mul(bce, neg)), tf.add(tf.sum(neg), 1e-12));
    const balanced = tf.add(tf.mul(posTerm, 0.5), tf.mul(negTerm, 0.5));
    return tf.add(tf.mul(tf.mean(dice), 0.5), tf.mul(balanced, 0.5)) as tf.Scalar;
  });
}

/** Adam written with plain tf ops (torch defaults: betas 0.9/0.999, eps 1e-8, no weight decay). */
export class PlainAdam {
  private readonly m: tf.Variable[];
  private readonly v: tf.Variable[];
  private t = 0;

  constructor(
    private readonly params: tf.Variable[],
    private readonly lr = 1e-3,
    private readonly beta1 = 0.9,
    private readonly beta2 = 0.999,
    private readonly eps = 1e-8,
  ) {
    this.m = params.map((p) => tf.variable(tf.zerosLike(p), false));
    this.v = params.map((p) => tf.variable(tf.zerosLike(p), false));
  }

  step(grads: tf.Tensor[]): void {
    this.t += 1;
    const c1 = 1 - this.beta1 ** this.t;
    const c2 = 1 - this.beta2 ** this.t;
    tf.tidy(() => {
      this.params.forEach((p, i) => {
        const g = grads[i];
        const m = tf.add(tf.mul(this.m[i], this.beta1), tf.mul(g, 1 - this.beta1));
        const v = tf.add(tf.mul(this.v[i], this.beta2), tf.mul(tf.square(g), 1 - this.beta2));
        this.m[i].assign(m);
        this.v[i].assign(v);
        const update = tf.div(tf.div(m, c1), tf.add(tf.sqrt(tf.div(v, c2)), this.eps));
        p.assign(tf.sub(p, tf.mul(update, this.lr)));
      });
    });
  }

  dispose(): void {
    for (const x of [...this.m, ...this.v]) x.dispose();
  }
}

export interface BenchStep {
  net: BenchUNet;
  /** One training step (forward, loss, backward, Adam); returns the loss. */
  step(): number;
  dispose(): void;
}

/** Builds the official-shape step on the current backend with seeded random data. */
export function createBenchStep(opts: { base?: number; batch?: number; res?: number; seed?: number } = {}): BenchStep {
  const { base = 16, batch = 4, res = 128, seed = 0 } = opts;
  const rng = new Rng(seed);
  const net = new BenchUNet(base, rng);
  const params = net.parameters();
  const adam = new PlainAdam(params);
  const n = batch * res * res;
  const xData = new Float32Array(n * 3).map(() => rng.next());
  const yData = new Float32Array(n).map(() => (rng.next() > 0.7 ? 1 : 0));
  const x = tf.tensor4d(xData, [batch, res, res, 3]);
  const y = tf.tensor4d(yData, [batch, res, res, 1]);
  const ctx: ForwardContext = { training: true };
  return {
    net,
    step() {
      const { value, grads } = tf.variableGrads(() => lvitLoss(net.forward(x, ctx), y), params);
      adam.step(params.map((p) => grads[p.name]));
      const loss = value.dataSync()[0];
      value.dispose();
      tf.dispose(grads);
      return loss;
    },
    dispose() {
      adam.dispose();
      net.dispose();
      x.dispose();
      y.dispose();
    },
  };
}
