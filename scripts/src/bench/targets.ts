/**
 * Train-step targets of the bench (bench.ts): a model, a random batch and Adam, stepped through core
 * `trainStep`. The full-size ones also run alone in a child process (`bench.js --child-step`), which
 * is how the GPU checks (scripts/src/gpu) time and profile them.
 */
import * as tf from '@tensorflow/tfjs';
import { Adam, Conv2d, ConvTranspose2d, createModel, listModels, maxPool2x2, Module, Rng, trainStep, trainStepAsync, type SegmentationModel } from '@lvit-bench/core';
import { TransUNet, UNet, type TransUNetConfig } from '@lvit-bench/baselines';
import { getProfile } from '../configs/profiles.js';

export interface StepTarget {
  model: string;
  config: string;
  params: number;
  warmups: number;
  reps: number;
  /** One forward pass (for FLOP counting); must not train. */
  forward: () => tf.Tensor;
  /** One train step; returns the loss (a Promise where it is read back asynchronously). */
  step: () => number | Promise<number>;
  dispose: () => void;
}

export function randomBatch(batch: number, size: number, seed: number): { images: tf.Tensor4D; masks: tf.Tensor4D } {
  const made = tf.tidy(() => ({
    images: tf.randomUniform([batch, size, size, 3], 0, 1, 'float32', seed) as tf.Tensor4D,
    masks: tf.cast(tf.greater(tf.randomUniform([batch, size, size, 1], 0, 1, 'float32', seed + 1), 0.5), 'float32') as tf.Tensor4D,
  }));
  // Computed now, as a loaded batch is: on the onnxruntime engine an unread value would join the first
  // step's recorded program, so that step would compile a graph no later step uses.
  made.images.dataSync();
  made.masks.dataSync();
  return made;
}

/** `asyncRead`: the loss is read with `await data()` (trainStepAsync), so backends without sync reads work. */
export function segmentationTarget(name: string, config: string, model: SegmentationModel, batch: number, size: number, warmups: number, reps: number, asyncRead = false): StepTarget {
  const { images, masks } = randomBatch(batch, size, 1);
  const text = model.usesText ? (tf.randomNormal([batch, 10, 768], 0, 1, 'float32', 3) as tf.Tensor3D) : null;
  const optimizer = new Adam(model.namedParameters(), { lr: 1e-3 });
  const rng = new Rng(5);
  return {
    model: name,
    config,
    params: model.parameterCount(),
    warmups,
    reps,
    forward: () => tf.tidy(() => model.forward(images, text, { training: false })),
    step: asyncRead ? async () => (await trainStepAsync({ model, optimizer, images, masks, text, rng })).loss : () => trainStep({ model, optimizer, images, masks, text, rng }).loss,
    dispose: () => {
      tf.dispose([images, masks, ...(text ? [text] : [])]);
      optimizer.dispose();
      model.dispose();
    },
  };
}

/** A full-size step run in a child process: `lvit-full:B` (official LViT-T) or `unet-full:B` (official U-Net, base 64), batch B @ 224². */
export interface FullSizeStep {
  model: 'lvit-full' | 'unet-full';
  batch: number;
}

export function parseFullSizeStep(value: string): FullSizeStep {
  const m = /^(lvit-full|unet-full):([1-9]\d*)$/.exec(value);
  if (!m) throw new Error(`bench: bad --child-step '${value}' (want lvit-full:B or unet-full:B)`);
  return { model: m[1] as FullSizeStep['model'], batch: Number(m[2]) };
}

/** The full-size target, 1 warm-up then `reps` timed steps; reads asynchronously (tfjs-webgpu in Node cannot read synchronously). */
export function fullSizeTarget(step: FullSizeStep, reps: number): StepTarget {
  if (step.model === 'unet-full') {
    const model = new UNet({ inChannels: 3, baseChannels: 64, seed: 1 });
    return segmentationTarget('unet', `full size (official config, base 64), batch ${step.batch} @ 224²`, model, step.batch, 224, 1, reps, true);
  }
  return segmentationTarget('lvit-t', `full size (official config), batch ${step.batch} @ 224²`, createModel('lvit-t', { seed: 1 }), step.batch, 224, 1, reps, true);
}

/** Full-size TransUNet R50-ViT-B/16 (105.3 M parameters at 224) at batch 2 @ 128², the PyTorch comparison's size. */
export function fullTransunetTarget(reps: number): StepTarget {
  return segmentationTarget('transunet', 'R50-ViT-B/16 (official config), batch 2 @ 128²', new TransUNet({ imageSize: 128, seed: 1 }), 2, 128, 1, reps);
}

/** ENGINE.md's bar for this net: ms/step on wasm-mt, 2 threads. */
export const ENGINE_BAR_MS = 674;


/**
 * The U-Net ENGINE.md's figures were measured on (its bar: 674 ms/step on wasm-mt): base 16, 4 levels,
 * 2x(3x3 conv+ReLU) per block, 2x2 max-pool, 2x2/s2 transposed-conv up path, channel concat, 1x1
 * head, no BatchNorm; 482,033 parameters.
 */
class EngineBarUNet extends Module {
  private readonly enc: [Conv2d, Conv2d][];
  private readonly ups: ConvTranspose2d[];
  private readonly dec: [Conv2d, Conv2d][];
  private readonly head: Conv2d;

  constructor(seed: number, base = 16, levels = 4) {
    super();
    const rng = new Rng(seed);
    const widths = Array.from({ length: levels }, (_, i) => base * 2 ** i); // 16,32,64,128
    this.enc = widths.map((w, i) => [
      this.child(`enc${i}.0`, new Conv2d(i === 0 ? 3 : widths[i - 1], w, 3, rng)),
      this.child(`enc${i}.1`, new Conv2d(w, w, 3, rng)),
    ]);
    this.ups = widths.slice(0, -1).map((w, i) => this.child(`up${i}`, new ConvTranspose2d(widths[i + 1], w, 2, 2, rng)));
    this.dec = widths.slice(0, -1).map((w, i) => [this.child(`dec${i}.0`, new Conv2d(2 * w, w, 3, rng)), this.child(`dec${i}.1`, new Conv2d(w, w, 3, rng))]);
    this.head = this.child('head', new Conv2d(base, 1, 1, rng));
  }

  /** [B,H,W,3] -> logits [B,H,W,1] */
  forward(x: tf.Tensor4D): tf.Tensor4D {
    const skips: tf.Tensor4D[] = [];
    let h = x;
    this.enc.forEach(([a, b], i) => {
      if (i > 0) h = maxPool2x2(h);
      h = b.forward(a.forward(h, 'relu'), 'relu');
      skips.push(h);
    });
    for (let i = this.ups.length - 1; i >= 0; i--) {
      const up = this.ups[i].forward(h);
      const [a, b] = this.dec[i];
      h = b.forward(a.forward(tf.concat([skips[i], up], 3), 'relu'), 'relu');
    }
    return this.head.forward(h);
  }
}

function engineBarTarget(warmups: number, reps: number): StepTarget {
  const model = new EngineBarUNet(1);
  const { images, masks } = randomBatch(4, 128, 1);
  const optimizer = new Adam(model.namedParameters(), { lr: 1e-3 });
  const params = model.namedParameters();
  const nameOf = new Map(params.map(([n, v]) => [v.name, n]));
  return {
    model: 'engine-bar-unet',
    config: 'ENGINE.md plain U-Net, base 16, 4 levels, batch 4 @ 128², BCE-with-logits, Adam',
    params: model.parameterCount(),
    warmups,
    reps,
    forward: () => tf.tidy(() => model.forward(images)),
    step: () => {
      const { value, grads } = tf.variableGrads(() => tf.losses.sigmoidCrossEntropy(masks, model.forward(images)) as tf.Scalar, params.map(([, v]) => v));
      optimizer.step(Object.fromEntries(Object.entries(grads).map(([k, g]) => [nameOf.get(k)!, g])));
      const loss = value.dataSync()[0];
      tf.dispose([value, ...Object.values(grads)]);
      return loss;
    },
    dispose: () => {
      tf.dispose([images, masks]);
      optimizer.dispose();
      model.dispose();
    },
  };
}

/** The official U-Net (baselines `UNet`), base 16, batch 4 @ 128²: the bench's first step and its PyTorch comparison. */
export function officialUnetTarget(warmups: number, reps: number): StepTarget {
  return segmentationTarget('unet', 'official U-Net (baselines UNet), base 16, batch 4 @ 128², WeightedDiceBCE, Adam', new UNet({ inChannels: 3, baseChannels: 16, seed: 1 }), 4, 128, warmups, reps);
}

/** The bench's train steps per backend: official U-Net, ENGINE.md's plain U-Net, quick TransUNet and (if registered) quick LViT-T. */
export function suiteStepTargets(reps: number): (() => StepTarget)[] {
  const warm = 2;
  const targets: (() => StepTarget)[] = [
    () => officialUnetTarget(warm, reps),
    () => engineBarTarget(warm, reps),
  ];
  const quick = getProfile('quick');
  const transunet = { ...(quick.modelConfigs.transunet as Omit<TransUNetConfig, 'seed'>), imageSize: quick.data.monuseg.imageSize, seed: 1 };
  targets.push(() => segmentationTarget('transunet', 'quick profile: units (1,2,2), 4 layers, hidden 64, batch 4 @ 128²', new TransUNet(transunet), 4, 128, warm, reps));
  if (listModels().includes('lvit-t')) {
    targets.push(() =>
      segmentationTarget('lvit-t', 'quick profile: base 16, token grid 8, batch 4 @ 128²', createModel('lvit-t', { baseChannels: 16, tokenGrid: 8, imageSize: 128, seed: 1 }), 4, 128, warm, reps),
    );
  }
  return targets;
}

/** Build a target, hand it to `use`, dispose it. */
export async function withTarget<T>(make: () => StepTarget, use: (t: StepTarget) => Promise<T>): Promise<T> {
  const target = make();
  try {
    return await use(target);
  } finally {
    target.dispose();
  }
}
