import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { LViT } from './lvit.js';
import { copyMatchingWeights } from '../train/checkpoint.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const TINY = { baseChannels: 4, imageSize: 32, tokenGrid: 2, heads: 2, textDim: 12, seed: 3 };

describe('copyMatchingWeights from a U-Net state into LViT (official "LViT_pretrain")', () => {
  it('copies entries whose name and shape match, and reports the rest as skipped', () => {
    const model = new LViT(TINY);
    const b = 4;
    // A U-Net-named state (official nets/UNet.py names, this repo's NHWC layouts) at LViT's width.
    const state = new Map<string, tf.Tensor>([
      ['inc.conv.weight', tf.fill([3, 3, 3, b], 0.25)],
      ['inc.norm.running_mean', tf.fill([b], 0.5)],
      ['down2.nConvs.1.norm.weight', tf.fill([4 * b], 2)],
      ['up4.nConvs.0.conv.weight', tf.fill([3, 3, 16 * b, 4 * b], -0.125)],
      ['outc.bias', tf.fill([1], 0.75)],
      ['up4.up.weight', tf.zeros([2, 2, 8 * b, 8 * b])], // ConvTranspose: LViT upsamples without weights
      ['up4.up.bias', tf.zeros([8 * b])],
      ['outc.weight', tf.zeros([1, 1, 2 * b, 1])], // same name, other width
    ]);
    const before = model.downVit.Encoder_blocks.items[0].attn.qkv.weight.dataSync().slice();
    const report = copyMatchingWeights(state, model);
    expect(report.copied).toEqual(['inc.conv.weight', 'inc.norm.running_mean', 'down2.nConvs.1.norm.weight', 'up4.nConvs.0.conv.weight', 'outc.bias']);
    expect(report.skipped).toEqual(['up4.up.weight', 'up4.up.bias', 'outc.weight']);
    const get = (name: string) => model.namedState().find(([n]) => n === name)![1];
    expect(new Set(get('inc.conv.weight').dataSync())).toEqual(new Set([0.25]));
    expect(new Set(get('inc.norm.running_mean').dataSync())).toEqual(new Set([0.5]));
    expect(new Set(get('up4.nConvs.0.conv.weight').dataSync())).toEqual(new Set([-0.125]));
    expect(get('outc.bias').dataSync()[0]).toBe(0.75);
    expect(new Set(get('outc.weight').dataSync()).size).toBeGreaterThan(1); // untouched random init
    expect(Array.from(model.downVit.Encoder_blocks.items[0].attn.qkv.weight.dataSync())).toEqual(Array.from(before));
    // The state stays the caller's: copying must not consume it.
    expect(state.get('inc.conv.weight')!.isDisposed).toBe(false);
    state.forEach((t) => t.dispose());
    model.dispose();
  });
});
