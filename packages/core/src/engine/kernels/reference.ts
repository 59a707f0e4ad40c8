import * as tf from '@tensorflow/tfjs';
import { Rng } from '../../rng.js';

/**
 * Naive float64 references for the kernel patches and small helpers for their tests. Plain loops
 * over the definitions, sharing nothing with the kernels but tfjs's padding arithmetic
 * (`computeConv2DInfo`, which defines what 'same'/'valid' mean).
 */

export type Shape4 = [number, number, number, number];

export function seededValues(n: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = rng.uniform(-1, 1);
  return out;
}

export function convInfo(
  xShape: Shape4,
  filterShape: Shape4,
  strides: number,
  pad: 'same' | 'valid' | number[][],
): tf.backend_util.Conv2DInfo {
  return tf.backend_util.computeConv2DInfo(xShape, filterShape, strides, 1, pad as 'same', undefined, false, 'channelsLast');
}

/** dW[kh,kw,ci,co] = sum_{n,oh,ow} x[n, oh*s+kh-top, ow*s+kw-left, ci] * dy[n,oh,ow,co]. */
export function naiveConv2DBackpropFilter(x: Float32Array, dy: Float32Array, info: tf.backend_util.Conv2DInfo): Float64Array {
  const { batchSize: N, inHeight: H, inWidth: W, inChannels: C, outHeight: OH, outWidth: OW, outChannels: O } = info;
  const { filterHeight: KH, filterWidth: KW, strideHeight: SH, strideWidth: SW } = info;
  const { top, left } = info.padInfo;
  const dw = new Float64Array(KH * KW * C * O);
  for (let n = 0; n < N; n++)
    for (let oh = 0; oh < OH; oh++)
      for (let ow = 0; ow < OW; ow++)
        for (let kh = 0; kh < KH; kh++) {
          const ih = oh * SH + kh - top;
          if (ih < 0 || ih >= H) continue;
          for (let kw = 0; kw < KW; kw++) {
            const iw = ow * SW + kw - left;
            if (iw < 0 || iw >= W) continue;
            for (let c = 0; c < C; c++) {
              const xv = x[((n * H + ih) * W + iw) * C + c];
              for (let o = 0; o < O; o++) dw[((kh * KW + kw) * C + c) * O + o] += xv * dy[((n * OH + oh) * OW + ow) * O + o];
            }
          }
        }
  return dw;
}

/** dx[n,ih,iw,ci] = sum over (oh,ow,kh,kw) with ih = oh*s+kh-top of dy[n,oh,ow,co] * W[kh,kw,ci,co]. */
export function naiveConv2DBackpropInput(dy: Float32Array, w: Float32Array, info: tf.backend_util.Conv2DInfo): Float64Array {
  const { batchSize: N, inHeight: H, inWidth: W, inChannels: C, outHeight: OH, outWidth: OW, outChannels: O } = info;
  const { filterHeight: KH, filterWidth: KW, strideHeight: SH, strideWidth: SW } = info;
  const { top, left } = info.padInfo;
  const dx = new Float64Array(N * H * W * C);
  for (let n = 0; n < N; n++)
    for (let oh = 0; oh < OH; oh++)
      for (let ow = 0; ow < OW; ow++)
        for (let kh = 0; kh < KH; kh++) {
          const ih = oh * SH + kh - top;
          if (ih < 0 || ih >= H) continue;
          for (let kw = 0; kw < KW; kw++) {
            const iw = ow * SW + kw - left;
            if (iw < 0 || iw >= W) continue;
            for (let c = 0; c < C; c++) {
              let acc = 0;
              for (let o = 0; o < O; o++) acc += dy[((n * OH + oh) * OW + ow) * O + o] * w[((kh * KW + kw) * C + c) * O + o];
              dx[((n * H + ih) * W + iw) * C + c] += acc;
            }
          }
        }
  return dx;
}

/** Batched product with tfjs broadcasting of a batch of 1; a [B|1,M,K] (or [B|1,K,M] transposed). */
export function naiveBatchMatMul(
  a: Float32Array,
  aShape: number[],
  b: Float32Array,
  bShape: number[],
  transposeA: boolean,
  transposeB: boolean,
): Float64Array {
  const batchA = aShape.slice(0, -2).reduce((p, d) => p * d, 1);
  const batchB = bShape.slice(0, -2).reduce((p, d) => p * d, 1);
  const [ar, ac] = aShape.slice(-2);
  const [br, bc] = bShape.slice(-2);
  const M = transposeA ? ac : ar;
  const K = transposeA ? ar : ac;
  const N = transposeB ? br : bc;
  const batch = Math.max(batchA, batchB);
  const out = new Float64Array(batch * M * N);
  for (let i = 0; i < batch; i++) {
    const ao = (batchA === 1 ? 0 : i) * ar * ac;
    const bo = (batchB === 1 ? 0 : i) * br * bc;
    for (let m = 0; m < M; m++)
      for (let n = 0; n < N; n++) {
        let acc = 0;
        for (let k = 0; k < K; k++) {
          const av = transposeA ? a[ao + k * ac + m] : a[ao + m * ac + k];
          const bv = transposeB ? b[bo + n * bc + k] : b[bo + k * bc + n];
          acc += av * bv;
        }
        out[(i * M + m) * N + n] = acc;
      }
  }
  return out;
}

/**
 * max |actual - expected| / max(floor, max finite |expected|): the error relative to this tensor's
 * scale. `floor` (default: none) is for tensors whose exact value is 0, such as the gradient of a
 * conv bias in front of a batch norm, where both sides hold only float32 rounding noise; pass that
 * noise level, not a bound that would hide a real error.
 * Equal values (infinities included) count as exact; NaN or a missing infinity is an infinite error.
 */
export function relativeMaxError(actual: ArrayLike<number>, expected: ArrayLike<number>, floor = 0): number {
  if (actual.length !== expected.length) {
    throw new Error(`engine/kernels/reference.ts: length ${actual.length} vs expected ${expected.length}`);
  }
  let maxDiff = 0;
  let scale = floor;
  for (let i = 0; i < expected.length; i++) {
    if (Number.isFinite(expected[i])) scale = Math.max(scale, Math.abs(expected[i]));
    if (actual[i] === expected[i]) continue; // also equal infinities
    const d = Math.abs(actual[i] - expected[i]);
    if (Number.isNaN(d) || d === Number.POSITIVE_INFINITY) return Number.POSITIVE_INFINITY;
    if (d > maxDiff) maxDiff = d;
  }
  if (maxDiff === 0) return 0;
  return scale > 0 ? maxDiff / scale : Number.POSITIVE_INFINITY;
}

function maxAbs(values: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < values.length; i++) m = Math.max(m, Math.abs(values[i]));
  return m;
}

/**
 * relativeMaxError of each named parameter gradient. A conv bias in front of a batch norm
 * (`X.conv.bias` beside `X.norm.weight`) has the exact gradient 0, so both sides hold rounding noise:
 * its error is measured against the scale of its conv weight's gradient instead.
 */
export function gradientErrors(actual: Map<string, ArrayLike<number>>, expected: Map<string, ArrayLike<number>>): Map<string, number> {
  const errors = new Map<string, number>();
  for (const [name, ref] of expected) {
    const got = actual.get(name);
    if (!got) throw new Error(`engine/kernels/reference.ts: no gradient for '${name}'`);
    const beforeBatchNorm = name.endsWith('.conv.bias') && expected.has(name.replace(/conv\.bias$/, 'norm.weight'));
    const floor = beforeBatchNorm ? maxAbs(expected.get(name.replace(/bias$/, 'weight'))!) : 0;
    errors.set(name, relativeMaxError(got, ref, floor));
  }
  return errors;
}

/** The largest of gradientErrors (NaN counts as the worst). */
export function worstGradientError(actual: Map<string, ArrayLike<number>>, expected: Map<string, ArrayLike<number>>): { name: string; error: number } {
  let worst = { name: '', error: 0 };
  for (const [name, error] of gradientErrors(actual, expected)) if (!(error <= worst.error)) worst = { name, error };
  return worst;
}
