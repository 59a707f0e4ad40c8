import * as tf from '@tensorflow/tfjs';
import { asWasmBackend } from '../heap.js';

/**
 * The wasm MaxPoolGrad kernel takes ~23 ms for [4,128,128,16] with 2x2 windows (the forward pool
 * takes 0.5 ms). This JS version walks each window once per output pixel with all channels in a
 * row (NHWC keeps them contiguous) and routes dy to the first maximum in row-major window order,
 * skipping padding, exactly as the cpu backend's maxPoolBackprop does. Non-overlapping 2x2/s2
 * windows without padding (the U-Net pool) take a branch-light special case.
 */
type Info = tf.backend_util.Conv2DInfo;

/** 2x2 windows, stride 2, no padding: each input pixel belongs to at most one window. */
function pool2x2Backprop(info: Info, x: Float32Array, g: Float32Array, dx: Float32Array): void {
  const { batchSize: N, inHeight: H, inWidth: W, inChannels: C, outHeight: OH, outWidth: OW } = info;
  const row = W * C;
  for (let n = 0; n < N; n++)
    for (let oh = 0; oh < OH; oh++)
      for (let ow = 0; ow < OW; ow++) {
        const p00 = ((n * H + 2 * oh) * W + 2 * ow) * C;
        const p01 = p00 + C;
        const p10 = p00 + row;
        const p11 = p10 + C;
        const gBase = ((n * OH + oh) * OW + ow) * C;
        for (let c = 0; c < C; c++) {
          // Row-major order, strict '>' from -Infinity: the first of equal maxima wins and NaN never
          // does (cpu semantics; a window of NaN/-Infinity passes no gradient).
          let best = Number.NEGATIVE_INFINITY;
          let at = -1;
          let v = x[p00 + c];
          if (v > best) (best = v), (at = p00 + c);
          v = x[p01 + c];
          if (v > best) (best = v), (at = p01 + c);
          v = x[p10 + c];
          if (v > best) (best = v), (at = p10 + c);
          v = x[p11 + c];
          if (v > best) at = p11 + c;
          if (at >= 0) dx[at] = g[gBase + c];
        }
      }
}

function isPlain2x2(info: Info): boolean {
  const p = info.padInfo;
  return (
    info.effectiveFilterHeight === 2 && info.effectiveFilterWidth === 2 && info.strideHeight === 2 && info.strideWidth === 2 &&
    p.top === 0 && p.left === 0 && p.bottom === 0 && p.right === 0
  );
}

export const wasmMaxPoolGradConfig: tf.KernelConfig = {
  kernelName: 'MaxPoolGrad',
  backendName: 'wasm',
  kernelFunc: (args) => {
    const { dy, input } = args.inputs as { dy: tf.TensorInfo; input: tf.TensorInfo };
    const { filterSize, strides, pad, dimRoundingMode } = args.attrs as unknown as tf.MaxPoolGradAttrs;
    const info = tf.backend_util.computePool2DInfo(input.shape as [number, number, number, number], filterSize, strides, 1, pad, dimRoundingMode);
    const { batchSize: N, inHeight: H, inWidth: W, inChannels: C, outHeight: OH, outWidth: OW } = info;
    const { strideHeight: SH, strideWidth: SW, effectiveFilterHeight: KH, effectiveFilterWidth: KW } = info;
    const { top, left } = info.padInfo;
    const backend = asWasmBackend(args.backend);
    const out = backend.makeOutput(input.shape, 'float32');
    const x = backend.typedArrayFromHeap(input) as Float32Array;
    const g = backend.typedArrayFromHeap(dy) as Float32Array;
    const dx = backend.typedArrayFromHeap(out) as Float32Array;
    dx.fill(0);
    if (isPlain2x2(info)) {
      pool2x2Backprop(info, x, g, dx);
      return out;
    }
    const best = new Float32Array(C);
    const bestAt = new Int32Array(C);
    for (let n = 0; n < N; n++)
      for (let oh = 0; oh < OH; oh++)
        for (let ow = 0; ow < OW; ow++) {
          best.fill(Number.NEGATIVE_INFINITY);
          bestAt.fill(-1);
          for (let kh = 0; kh < KH; kh++) {
            const ih = oh * SH + kh - top;
            if (ih < 0 || ih >= H) continue;
            for (let kw = 0; kw < KW; kw++) {
              const iw = ow * SW + kw - left;
              if (iw < 0 || iw >= W) continue;
              const base = ((n * H + ih) * W + iw) * C;
              for (let c = 0; c < C; c++) {
                const v = x[base + c];
                if (v > best[c]) {
                  best[c] = v;
                  bestAt[c] = base + c;
                }
              }
            }
          }
          const gBase = ((n * OH + oh) * OW + ow) * C;
          for (let c = 0; c < C; c++) if (bestAt[c] >= 0) dx[bestAt[c]] += g[gBase + c];
        }
    return out;
  },
};
