import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '../rng.js';
import { Reconstruct } from './reconstruct.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('Reconstruct', () => {
  it('reshapes tokens row-major, upsamples nearest, then 1x1 conv + BN (eval) + ReLU', () => {
    const rng = new Rng(2);
    const [b, g, c, cout, scale] = [1, 2, 3, 2, 3];
    const rec = new Reconstruct(c, cout, scale, rng);
    const tokens = Array.from({ length: b * g * g * c }, () => rng.normal());
    const w = rec.conv.weight.arraySync() as number[][][][];
    const bias = rec.conv.bias!.dataSync();
    const got = tf.tidy(() => rec.forward(tf.tensor3d(tokens, [b, g * g, c]), { training: false }).arraySync());
    expect([got.length, got[0].length, got[0][0].length, got[0][0][0].length]).toEqual([b, g * scale, g * scale, cout]);
    for (let y = 0; y < g * scale; y++) {
      for (let x = 0; x < g * scale; x++) {
        const token = Math.floor(y / scale) * g + Math.floor(x / scale);
        for (let co = 0; co < cout; co++) {
          let v = bias[co];
          for (let ci = 0; ci < c; ci++) v += w[0][0][ci][co] * tokens[token * c + ci];
          const bn = v / Math.sqrt(1 + 1e-5); // fresh running stats: mean 0, var 1, gamma 1, beta 0
          expect(Math.abs(got[0][y][x][co] - Math.max(bn, 0))).toBeLessThan(1e-5);
        }
      }
    }
  });

  it('rejects a non-square token count', () => {
    const rec = new Reconstruct(2, 2, 2, new Rng(1));
    expect(() => rec.forward(tf.zeros([1, 5, 2]) as tf.Tensor3D, { training: false })).toThrow(/reconstruct\.ts: token count 5 is not a square/);
  });
});
