import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '../rng.js';
import { ConvTransBN } from './conv-trans-bn.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/**
 * torch semantics by hand: x [B][Cin][L] -> Conv1d(k3, pad 1) -> BatchNorm1d in train mode
 * (batch statistics over B and L, biased variance) -> ReLU -> [B][Cout][L].
 */
function ctbnTorchLayout(x: number[][][], w: (co: number, ci: number, k: number) => number, bias: ArrayLike<number>, cout: number): number[][][] {
  const [b, cin, len] = [x.length, x[0].length, x[0][0].length];
  const y = Array.from({ length: b }, (_, n) =>
    Array.from({ length: cout }, (_, co) =>
      Array.from({ length: len }, (_, l) => {
        let s = bias[co];
        for (let ci = 0; ci < cin; ci++) {
          for (let k = 0; k < 3; k++) {
            const src = l + k - 1;
            if (src >= 0 && src < len) s += w(co, ci, k) * x[n][ci][src];
          }
        }
        return s;
      }),
    ),
  );
  for (let co = 0; co < cout; co++) {
    const vals = y.flatMap((row) => row[co]);
    const mean = vals.reduce((a, v) => a + v, 0) / vals.length;
    const variance = vals.reduce((a, v) => a + (v - mean) ** 2, 0) / vals.length;
    for (const row of y) row[co] = row[co].map((v) => Math.max((v - mean) / Math.sqrt(variance + 1e-5), 0));
  }
  return y;
}

function randomArray(rng: Rng, dims: number[]): number[][][] {
  return Array.from({ length: dims[0] }, () => Array.from({ length: dims[1] }, () => Array.from({ length: dims[2] }, () => rng.normal())));
}

describe('ConvTransBN', () => {
  it("CTBN3 ('channels-first'): text [B,T,D] mixes the T tokens as channels and convolves along D", () => {
    const rng = new Rng(3);
    const [b, t, d, n] = [2, 3, 6, 4];
    const ctbn3 = new ConvTransBN(t, n, rng, 'channels-first');
    const text = randomArray(rng, [b, t, d]);
    const w = ctbn3.conv.weight.arraySync() as number[][][]; // [k][Cin][Cout]
    const want = ctbnTorchLayout(text, (co, ci, k) => w[k][ci][co], ctbn3.conv.bias.dataSync(), n);
    const got = tf.tidy(() => ctbn3.forward(tf.tensor3d(text), { training: true }).arraySync());
    expect(got.length).toBe(b);
    expect(got[0].length).toBe(n); // [B,N,D]
    expect(got[0][0].length).toBe(d);
    got.flat(2).forEach((v, i) => expect(Math.abs(v - want.flat(2)[i])).toBeLessThan(1e-4));
  });

  it("CTBN/CTBN2 ('channels-last'): tokens [B,N,C] convolve along N with C as channels", () => {
    const rng = new Rng(4);
    const [b, n, c, cout] = [2, 5, 4, 2];
    const ctbn = new ConvTransBN(c, cout, rng);
    const tokens = randomArray(rng, [b, n, c]);
    const w = ctbn.conv.weight.arraySync() as number[][][];
    const torchLayout = tokens.map((seq) => Array.from({ length: c }, (_, ci) => seq.map((tok) => tok[ci]))); // [B][C][N]
    const want = ctbnTorchLayout(torchLayout, (co, ci, k) => w[k][ci][co], ctbn.conv.bias.dataSync(), cout);
    const got = tf.tidy(() => ctbn.forward(tf.tensor3d(tokens), { training: true }).arraySync());
    for (let i = 0; i < b; i++) {
      for (let tok = 0; tok < n; tok++) {
        for (let co = 0; co < cout; co++) expect(Math.abs(got[i][tok][co] - want[i][co][tok])).toBeLessThan(1e-4);
      }
    }
  });

  it('names its children as the official state dict and checks the channel axis', () => {
    const ctbn = new ConvTransBN(10, 196, new Rng(1), 'channels-first');
    expect(ctbn.namedState().map(([name]) => name)).toEqual([
      'conv.weight', 'conv.bias', 'norm.weight', 'norm.bias', 'norm.running_mean', 'norm.running_var',
    ]);
    expect(() => ctbn.forward(tf.zeros([1, 64, 10]) as tf.Tensor3D, { training: false })).toThrow(
      /conv-trans-bn\.ts: channels-first input must be \[B,10,L\]/,
    );
  });
});
