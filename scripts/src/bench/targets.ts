/**
 * Train-step targets of the bench (bench.ts): a model, a random batch and Adam, stepped through core
 * `trainStep`. The full-size ones also run alone in a child process (`bench.js --child-step`), which
 * is how the GPU checks (scripts/src/gpu) time and profile them.
 */
import * as tf from '@tensorflow/tfjs';
import { Adam, createModel, Rng, trainStep, trainStepAsync, type SegmentationModel } from '@lvit-bench/core';
import { TransUNet, UNet } from '@lvit-bench/baselines';

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
  return tf.tidy(() => ({
    images: tf.randomUniform([batch, size, size, 3], 0, 1, 'float32', seed) as tf.Tensor4D,
    masks: tf.cast(tf.greater(tf.randomUniform([batch, size, size, 1], 0, 1, 'float32', seed + 1), 0.5), 'float32') as tf.Tensor4D,
  }));
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

/** Build a target, hand it to `use`, dispose it. */
export async function withTarget<T>(make: () => StepTarget, use: (t: StepTarget) => Promise<T>): Promise<T> {
  const target = make();
  try {
    return await use(target);
  } finally {
    target.dispose();
  }
}
