import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '../rng.js';
import { UpblockAttention } from './upblock-attention.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('UpblockAttention', () => {
  it('concatenates [PLAM(skip), upsampled deep]: the first half of nConvs.0 sees the skip', () => {
    const rng = new Rng(6);
    const block = new UpblockAttention(8, 3, rng);
    const deepA = tf.randomNormal([1, 2, 2, 4], 0, 1, 'float32', 1) as tf.Tensor4D;
    const deepB = tf.randomNormal([1, 2, 2, 4], 0, 1, 'float32', 2) as tf.Tensor4D;
    const skip = tf.randomNormal([1, 4, 4, 4], 0, 1, 'float32', 3) as tf.Tensor4D;
    const ctx = { training: false };
    const outA = tf.tidy(() => block.forward(deepA, skip, ctx).dataSync());
    expect(Array.from(outA)).not.toEqual(Array.from(tf.tidy(() => block.forward(deepB, skip, ctx).dataSync())));

    // Zero the weights reading input channels 4..7 (the second half): the deep input must stop mattering.
    const first = block.nConvs.items[0].conv.weight;
    const mask = tf.concat([tf.ones([3, 3, 4, 3]), tf.zeros([3, 3, 4, 3])], 2);
    first.assign(tf.mul(first, mask));
    const a = tf.tidy(() => block.forward(deepA, skip, ctx).dataSync());
    const b = tf.tidy(() => block.forward(deepB, skip, ctx).dataSync());
    expect(Array.from(a)).toEqual(Array.from(b));
    expect(a.length).toBe(1 * 4 * 4 * 3);
    tf.dispose([deepA, deepB, skip, mask]);
  });

  it('names pixModule and nConvs as upstream and checks shapes', () => {
    const block = new UpblockAttention(8, 3, new Rng(1));
    const names = block.namedParameters().map(([n]) => n);
    expect(names[0]).toBe('pixModule.conv_avg.weight');
    expect(names).toContain('nConvs.1.norm.weight');
    expect(() => block.forward(tf.zeros([1, 2, 2, 4]) as tf.Tensor4D, tf.zeros([1, 2, 2, 4]) as tf.Tensor4D, { training: false })).toThrow(
      /upblock-attention\.ts: expected deep \[B,S,S,4\] and skip \[B,2S,2S,4\]/,
    );
  });
});
