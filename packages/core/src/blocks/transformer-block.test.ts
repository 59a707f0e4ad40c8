import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '../rng.js';
import { TransformerBlock } from './transformer-block.js';
import { gelu } from './mlp.js';

/**
 * Independent float64 reference of LViT's ViT `Block` written from LVIT.md §1.4 in plain loops
 * (torch's qkv split: head j reads q, k, v from columns j·d, C + j·d, 2C + j·d of the qkv output),
 * then: forward vs tfjs, and tfjs's analytic gradients vs central finite differences of the
 * float64 reference.
 */

/** erf to ~1e-14: Taylor series below 2.5, continued fraction for erfc above. */
function erf(x: number): number {
  const ax = Math.abs(x);
  if (ax < 2.5) {
    let term = x;
    let sum = x;
    for (let n = 1; n < 80; n++) {
      term *= (-x * x) / n;
      sum += term / (2 * n + 1);
    }
    return (2 / Math.sqrt(Math.PI)) * sum;
  }
  let frac = ax;
  for (let k = 120; k >= 1; k--) frac = ax + k / 2 / frac;
  const erfc = Math.exp(-ax * ax) / Math.sqrt(Math.PI) / frac;
  return Math.sign(x) * (1 - erfc);
}
const geluRef = (v: number) => 0.5 * v * (1 + erf(v / Math.SQRT2));

type Params = Record<string, Float64Array>;

function linear(x: number[][], w: Float64Array, b: Float64Array, out: number): number[][] {
  return x.map((row) =>
    Array.from({ length: out }, (_, o) => row.reduce((s, v, i) => s + v * w[i * out + o], b[o])),
  );
}

function layerNorm(x: number[][], g: Float64Array, b: Float64Array): number[][] {
  return x.map((row) => {
    const mean = row.reduce((s, v) => s + v, 0) / row.length;
    const variance = row.reduce((s, v) => s + (v - mean) ** 2, 0) / row.length;
    return row.map((v, i) => ((v - mean) / Math.sqrt(variance + 1e-5)) * g[i] + b[i]);
  });
}

/** One sequence x [N][C] through the block. */
function blockRef(x: number[][], p: Params, c: number, heads: number, hidden: number): number[][] {
  const n = x.length;
  const d = c / heads;
  const qkv = linear(layerNorm(x, p['norm1.weight'], p['norm1.bias']), p['attn.qkv.weight'], p['attn.qkv.bias'], 3 * c);
  const mixed = Array.from({ length: n }, () => new Array<number>(c).fill(0));
  for (let h = 0; h < heads; h++) {
    for (let i = 0; i < n; i++) {
      const scores = Array.from({ length: n }, (_, j) => {
        let s = 0;
        for (let e = 0; e < d; e++) s += qkv[i][h * d + e] * qkv[j][c + h * d + e];
        return s / Math.sqrt(d);
      });
      const top = Math.max(...scores);
      const exps = scores.map((s) => Math.exp(s - top));
      const z = exps.reduce((a, v) => a + v, 0);
      for (let j = 0; j < n; j++) {
        for (let e = 0; e < d; e++) mixed[i][h * d + e] += (exps[j] / z) * qkv[j][2 * c + h * d + e];
      }
    }
  }
  const attn = linear(mixed, p['attn.proj.weight'], p['attn.proj.bias'], c);
  const x1 = x.map((row, i) => row.map((v, k) => v + attn[i][k]));
  const h1 = linear(layerNorm(x1, p['norm2.weight'], p['norm2.bias']), p['mlp.fc1.weight'], p['mlp.fc1.bias'], hidden).map(
    (row) => row.map(geluRef),
  );
  const h2 = linear(h1, p['mlp.fc2.weight'], p['mlp.fc2.bias'], c).map((row) => row.map(geluRef));
  return x1.map((row, i) => row.map((v, k) => v + h2[i][k]));
}

const B = 2;
const N = 5;
const C = 8;
const HEADS = 2;
const HIDDEN = 32;

function toRows(data: Float64Array, b: number): number[][] {
  return Array.from({ length: N }, (_, i) => Array.from(data.subarray((b * N + i) * C, (b * N + i + 1) * C)));
}

function lossRef(x: Float64Array, p: Params, r: Float64Array): number {
  let loss = 0;
  for (let b = 0; b < B; b++) {
    const y = blockRef(toRows(x, b), p, C, HEADS, HIDDEN);
    y.forEach((row, i) => row.forEach((v, k) => (loss += v * r[(b * N + i) * C + k])));
  }
  return loss;
}

describe('TransformerBlock (LViT ViT Block)', () => {
  let block: TransformerBlock;
  let x: tf.Tensor3D;
  let r: tf.Tensor3D;
  let params: Params;

  beforeAll(async () => {
    await tf.setBackend('cpu');
    const rng = new Rng(7);
    block = new TransformerBlock(C, HEADS, rng, { mlpRatio: 4, dropout: 0.1 });
    // Non-trivial LayerNorm affine and biases so every parameter shapes the output.
    for (const [name, v] of block.namedParameters()) {
      if (name.startsWith('norm') || name.endsWith('bias')) {
        v.assign(tf.tensor(Array.from({ length: v.size }, () => rng.uniform(0.5, 1.5) * (name.endsWith('weight') ? 1 : 0.3)), v.shape));
      }
    }
    x = tf.tensor3d(Array.from({ length: B * N * C }, () => rng.normal()), [B, N, C]);
    r = tf.tensor3d(Array.from({ length: B * N * C }, () => rng.normal()), [B, N, C]);
    params = Object.fromEntries(block.namedParameters().map(([n, v]) => [n, Float64Array.from(v.dataSync())]));
  });

  it('has the official parameter names and shapes', () => {
    const shapes = Object.fromEntries(block.namedParameters().map(([n, v]) => [n, v.shape]));
    expect(shapes).toEqual({
      'norm1.weight': [C], 'norm1.bias': [C],
      'attn.qkv.weight': [C, 3 * C], 'attn.qkv.bias': [3 * C],
      'attn.proj.weight': [C, C], 'attn.proj.bias': [C],
      'norm2.weight': [C], 'norm2.bias': [C],
      'mlp.fc1.weight': [C, HIDDEN], 'mlp.fc1.bias': [HIDDEN],
      'mlp.fc2.weight': [HIDDEN, C], 'mlp.fc2.bias': [C],
    });
  });

  it('forward matches the float64 loop reference', () => {
    const got = tf.tidy(() => block.forward(x, { training: false }).dataSync());
    const xs = Float64Array.from(x.dataSync());
    for (let b = 0; b < B; b++) {
      const want = blockRef(toRows(xs, b), params, C, HEADS, HIDDEN).flat();
      want.forEach((v, i) => expect(Math.abs(got[b * N * C + i] - v)).toBeLessThan(2e-5 * (1 + Math.abs(v))));
    }
  });

  it('gradients match central finite differences of the reference', () => {
    const vars = block.namedParameters();
    const { grads, xGrad } = tf.tidy(() => {
      const loss = () => tf.sum(tf.mul(block.forward(x, { training: false }), r)) as tf.Scalar;
      const g = tf.variableGrads(loss, vars.map(([, v]) => v));
      const gx = tf.grad((input: tf.Tensor) => tf.sum(tf.mul(block.forward(input as tf.Tensor3D, { training: false }), r)))(x);
      return {
        grads: Object.fromEntries(vars.map(([n, v]) => [n, g.grads[v.name].dataSync()])),
        xGrad: gx.dataSync(),
      };
    });
    const rs = Float64Array.from(r.dataSync());
    const xs = Float64Array.from(x.dataSync());
    const rng = new Rng(11);
    const eps = 1e-5;
    const check = (analytic: number, plus: () => number, minus: () => number) => {
      const fd = (plus() - minus()) / (2 * eps);
      expect(Math.abs(analytic - fd)).toBeLessThan(1e-4 + 2e-3 * Math.abs(fd));
    };
    let checked = 0;
    for (const [name] of vars) {
      const p = params[name];
      for (let t = 0; t < 3; t++) {
        const i = rng.int(p.length);
        const at = (delta: number) => () => {
          const saved = p[i];
          p[i] = saved + delta;
          const l = lossRef(xs, params, rs);
          p[i] = saved;
          return l;
        };
        check(grads[name][i], at(eps), at(-eps));
        checked++;
      }
    }
    for (let t = 0; t < 6; t++) {
      const i = rng.int(xs.length);
      const at = (delta: number) => () => {
        const shifted = Float64Array.from(xs);
        shifted[i] += delta;
        return lossRef(shifted, params, rs);
      };
      check(xGrad[i], at(eps), at(-eps));
      checked++;
    }
    expect(checked).toBe(12 * 3 + 6);
  });

  it('dropout is active only in training mode with an rng', () => {
    const [evalOut, noRng, trained] = tf.tidy(() => [
      block.forward(x, { training: false }).arraySync(),
      block.forward(x, { training: true }).arraySync(),
      block.forward(x, { training: true, rng: new Rng(3) }).arraySync(),
    ]);
    expect(noRng).toEqual(evalOut);
    expect(trained).not.toEqual(evalOut);
  });

  it('gelu is the exact erf form (not the tanh approximation)', () => {
    const xs = [-4, -2.5, -1, -0.3, 0, 0.7, 1.5, 3];
    const got = tf.tidy(() => gelu(tf.tensor1d(xs)).dataSync());
    xs.forEach((v, i) => expect(Math.abs(got[i] - geluRef(v))).toBeLessThan(1e-6));
    // tanh form differs from erf form by ~1e-4 near |x| = 2; make sure we are not that one.
    const tanhForm = 0.5 * -2.5 * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (-2.5 + 0.044715 * (-2.5) ** 3)));
    expect(Math.abs(tanhForm - geluRef(-2.5))).toBeGreaterThan(1e-5);
  });

  it('rejects a width not divisible by the heads', () => {
    expect(() => new TransformerBlock(10, 4, new Rng(1))).toThrow(/attention\.ts: dim 10 is not divisible by heads 4/);
  });
});
