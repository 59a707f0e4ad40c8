import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '../rng.js';
import { PatchEmbeddings } from './patch-embed.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('PatchEmbeddings (official Embeddings)', () => {
  it('is a kernel=stride=patch conv, row-major token order, plus the position embedding', () => {
    const rng = new Rng(9);
    const [b, s, c, p] = [2, 6, 3, 2];
    const g = s / p;
    const emb = new PatchEmbeddings(c, s, p, rng);
    const pos = Array.from({ length: g * g * c }, () => rng.normal());
    emb.position_embeddings.assign(tf.tensor3d(pos, [1, g * g, c]));
    const x = Array.from({ length: b * s * s * c }, () => rng.normal());
    const w = emb.patch_embeddings.weight.arraySync() as number[][][][]; // [ky][kx][ci][co]
    const bias = emb.patch_embeddings.bias!.dataSync();
    const got = tf.tidy(() => emb.forward(tf.tensor4d(x, [b, s, s, c]), { training: false }).arraySync());
    for (let n = 0; n < b; n++) {
      for (let gy = 0; gy < g; gy++) {
        for (let gx = 0; gx < g; gx++) {
          const token = gy * g + gx;
          for (let co = 0; co < c; co++) {
            let v = bias[co] + pos[token * c + co];
            for (let ky = 0; ky < p; ky++) {
              for (let kx = 0; kx < p; kx++) {
                for (let ci = 0; ci < c; ci++) v += w[ky][kx][ci][co] * x[((n * s + gy * p + ky) * s + gx * p + kx) * c + ci];
              }
            }
            expect(Math.abs(got[n][token][co] - v)).toBeLessThan(1e-4);
          }
        }
      }
    }
  });

  it('starts with zero position embeddings and has the official names', () => {
    const emb = new PatchEmbeddings(64, 224, 16, new Rng(1));
    expect(emb.tokens).toBe(196);
    expect(emb.position_embeddings.shape).toEqual([1, 196, 64]);
    expect(tf.tidy(() => tf.max(tf.abs(emb.position_embeddings)).dataSync()[0])).toBe(0);
    expect(emb.namedParameters().map(([n]) => n)).toEqual([
      'position_embeddings',
      'patch_embeddings.weight',
      'patch_embeddings.bias',
    ]);
  });

  it('rejects sizes that do not tile', () => {
    expect(() => new PatchEmbeddings(4, 30, 4, new Rng(1))).toThrow(/patch-embed\.ts: imageSize 30 is not a multiple of patchSize 4/);
    const emb = new PatchEmbeddings(4, 8, 4, new Rng(1));
    expect(() => emb.forward(tf.zeros([1, 16, 16, 4]) as tf.Tensor4D, { training: false })).toThrow(/must be \[B,8,8,4\]/);
  });
});
