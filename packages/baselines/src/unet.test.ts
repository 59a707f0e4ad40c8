import * as tf from '@tensorflow/tfjs';
import { Adam, createModel, listModels, patchCpuForTraining, Rng, trainStep, weightedDiceBCE } from '@lvit-bench/core';
import { beforeAll, describe, expect, it } from 'vitest';
import './index.js';
import { UNet } from './unet.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
  patchCpuForTraining(); // engine/: the stock cpu Conv2DBackpropFilter is very slow
});

function randomBatch(seed: number, b: number, size: number) {
  const rng = new Rng(seed);
  const img = new Float32Array(b * size * size * 3).map(() => rng.next());
  const mask = new Float32Array(b * size * size);
  // A square of foreground in each image.
  for (let i = 0; i < b; i++) {
    for (let y = 4; y < 11; y++) for (let x = 5; x < 12; x++) mask[i * size * size + y * size + x] = 1;
  }
  return { images: tf.tensor4d(img, [b, size, size, 3]), masks: tf.tensor4d(mask, [b, size, size, 1]) };
}

describe('UNet (official LViT-repo U-Net)', () => {
  it('has 14,751,873 parameters at base 64 and the official state-dict names', () => {
    const model = new UNet({ seed: 1 });
    try {
      expect(model.parameterCount()).toBe(14_751_873);
      const names = model.namedState().map(([n]) => n);
      for (const n of [
        'inc.conv.weight',
        'inc.norm.running_var',
        'down1.nConvs.0.conv.weight',
        'down4.nConvs.1.norm.bias',
        'up4.up.weight',
        'up4.nConvs.0.conv.weight',
        'up1.nConvs.1.norm.running_mean',
        'outc.weight',
        'outc.bias',
      ]) {
        expect(names).toContain(n);
      }
      // up4 sees concat [up (8b), skip (8b)] = 16b channels.
      const shapes = new Map(model.namedParameters().map(([n, v]) => [n, v.shape]));
      expect(shapes.get('up4.up.weight')).toEqual([2, 2, 512, 512]);
      expect(shapes.get('up4.nConvs.0.conv.weight')).toEqual([3, 3, 1024, 256]);
      expect(shapes.get('up1.nConvs.0.conv.weight')).toEqual([3, 3, 128, 64]);
    } finally {
      model.dispose();
    }
  });

  it('is registered as "unet" and maps [B,H,W,3] to [B,H,W,1] probabilities', () => {
    expect(listModels()).toContain('unet');
    const model = createModel('unet', { baseChannels: 4, seed: 3 });
    expect(model.usesText).toBe(false);
    const { images } = randomBatch(5, 2, 16);
    for (const training of [false, true]) {
      const out = model.forward(images, null, { training });
      expect(out.shape).toEqual([2, 16, 16, 1]);
      const v = out.dataSync();
      for (const p of v) expect(p > 0 && p < 1).toBe(true);
      out.dispose();
    }
    expect(() => model.forward(tf.zeros([1, 20, 16, 3]) as tf.Tensor4D, null, { training: false })).toThrow(/baselines\/unet\.ts/);
    model.dispose();
  });

  it('is deterministic for a seed', () => {
    const a = new UNet({ baseChannels: 4, seed: 9 });
    const b = new UNet({ baseChannels: 4, seed: 9 });
    const { images } = randomBatch(1, 1, 16);
    const ya = a.forward(images, null, { training: false }).dataSync();
    const yb = b.forward(images, null, { training: false }).dataSync();
    expect(Array.from(ya)).toEqual(Array.from(yb));
  });

  it('one Adam step on a tiny batch lowers the loss', () => {
    const model = new UNet({ baseChannels: 4, seed: 2 });
    const optimizer = new Adam(model.namedParameters(), { lr: 1e-3 });
    const { images, masks } = randomBatch(7, 2, 16);
    const lossNow = () => tf.tidy(() => weightedDiceBCE(model.forward(images, null, { training: true }), masks).dataSync()[0]);
    const before = lossNow();
    const step = trainStep({ model, optimizer, images, masks, text: null, rng: new Rng(0) });
    expect(step.loss).toBeCloseTo(before, 5);
    expect(step.terms.diceBCE).toBeCloseTo(before, 5);
    const after = lossNow();
    expect(after).toBeLessThan(before);
    optimizer.dispose();
    model.dispose();
  });
});
