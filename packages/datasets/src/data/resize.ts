/**
 * `cv2.resize(img, (w, h))` with the default INTER_LINEAR on 8-bit images, bit for bit as OpenCV's
 * default CPU path computes it (LVIT.md §3.5: LViT resizes every image and mask this way).
 *
 * What OpenCV does (imgproc/src/resize.cpp, generic path, no IPP):
 * - source coordinate of output pixel d: f = float((d + 0.5) * scale - 0.5), scale = 1 / (dst / src)
 *   in double (half-pixel centres, no antialias when shrinking); s = floor(f), weight f - s in float.
 * - weights are fixed point: round(w * 2048) as int16 (INTER_RESIZE_COEF_BITS = 11).
 * - horizontal pass: int32 sums S[s]*a0 + S[s+1]*a1; taps left of 0 / right of the last column are
 *   clamped (s = 0 or s = last with weight 0).
 * - vertical pass over rows clip(s) and clip(s + 1): ((S0 >> 4) * b0 >> 16) + ((S1 >> 4) * b1 >> 16),
 *   then (v + 2) >> 2, saturated to 0..255: the SIMD kernel's arithmetic, which OpenCV 4.6.0 (Debian,
 *   x86-64) applies to every element of a row, its tail included. (The scalar formula
 *   (S0*b0 + S1*b1 + 2^21) >> 22 is 1 higher now and then; a model that used it for the last `width % 8`
 *   elements missed OpenCV's bytes there, found by test-golden/'s real-OpenCV goldens.)
 * - an exact 2x shrink in both directions is routed to INTER_AREA's fast path: (a+b+c+d+2) >> 2.
 * - equal sizes copy.
 */

const COEF_BITS = 11;
const COEF_SCALE = 1 << COEF_BITS; // 2048

export interface ImageU8 {
  /** Row-major HWC. */
  data: Uint8Array;
  width: number;
  height: number;
  channels: number;
}

interface AxisTable {
  /** Source index of the left/top tap per output index. */
  offset: Int32Array;
  /** Fixed-point weights of the two taps. */
  w0: Int16Array;
  w1: Int16Array;
}

/** C's lrint / OpenCV cvRound: round half to even. */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** Coordinates and weights along one axis. `clampTaps`: x axis clamps taps; y axis clips rows instead. */
function axisTable(src: number, dst: number, clampTaps: boolean): AxisTable {
  const scale = 1 / (dst / src);
  const offset = new Int32Array(dst);
  const w0 = new Int16Array(dst);
  const w1 = new Int16Array(dst);
  for (let d = 0; d < dst; d++) {
    let f = Math.fround((d + 0.5) * scale - 0.5);
    let s = Math.floor(f);
    f = Math.fround(f - s);
    if (clampTaps) {
      if (s < 0) {
        f = 0;
        s = 0;
      }
      if (s >= src - 1) {
        f = 0;
        s = src - 1;
      }
    }
    offset[d] = s;
    w0[d] = roundHalfEven(Math.fround(1 - f) * COEF_SCALE);
    w1[d] = roundHalfEven(f * COEF_SCALE);
  }
  return { offset, w0, w1 };
}

/** One source row resampled horizontally into int32 fixed-point sums (weights sum to ~2048). */
function horizontalPass(src: ImageU8, row: number, x: AxisTable, out: Int32Array): void {
  const { data, width, channels: cn } = src;
  const base = row * width * cn;
  const dstWidth = x.offset.length;
  for (let dx = 0; dx < dstWidth; dx++) {
    const s = x.offset[dx];
    const a0 = x.w0[dx];
    const a1 = x.w1[dx];
    const p = base + s * cn;
    for (let c = 0; c < cn; c++) {
      // a1 is 0 at the right edge, where s + 1 would be outside the row.
      out[dx * cn + c] = data[p + c] * a0 + (a1 !== 0 ? data[p + cn + c] * a1 : 0);
    }
  }
}

function clampU8(v: number): number {
  return v < 0 ? 0 : v > 255 ? 255 : v;
}

/** The vertical blend of two horizontally resampled rows into one 8-bit output row. */
function verticalPass(s0: Int32Array, s1: Int32Array, b0: number, b1: number, out: Uint8Array, outBase: number): void {
  for (let i = 0; i < s0.length; i++) {
    // (S >> 4) fits int16; mul_hi keeps the high 16 bits of the 32-bit product (arithmetic shift).
    const v = (((s0[i] >> 4) * b0) >> 16) + (((s1[i] >> 4) * b1) >> 16);
    out[outBase + i] = clampU8((v + 2) >> 2);
  }
}

function resizeAreaFast2x(src: ImageU8, dstW: number, dstH: number): Uint8Array {
  const { data, width, channels: cn } = src;
  const out = new Uint8Array(dstW * dstH * cn);
  const stride = width * cn;
  for (let y = 0; y < dstH; y++) {
    const r0 = 2 * y * stride;
    const r1 = r0 + stride;
    for (let x = 0; x < dstW; x++) {
      for (let c = 0; c < cn; c++) {
        const p = 2 * x * cn + c;
        out[(y * dstW + x) * cn + c] = (data[r0 + p] + data[r0 + p + cn] + data[r1 + p] + data[r1 + p + cn] + 2) >> 2;
      }
    }
  }
  return out;
}

/** cv2.resize(src, (dstW, dstH)) with INTER_LINEAR on uint8 HWC data (any channel count). */
export function resizeLinearU8(src: ImageU8, dstW: number, dstH: number): ImageU8 {
  const { width: sw, height: sh, channels: cn } = src;
  if (!(Number.isInteger(dstW) && Number.isInteger(dstH) && dstW > 0 && dstH > 0)) {
    throw new Error(`resize: target size ${dstW}x${dstH} must be positive integers`);
  }
  if (src.data.length !== sw * sh * cn) {
    throw new Error(`resize: buffer has ${src.data.length} bytes, expected ${sw}x${sh}x${cn}`);
  }
  if (sw === dstW && sh === dstH) return { data: src.data.slice(), width: sw, height: sh, channels: cn };
  if (sw === 2 * dstW && sh === 2 * dstH) {
    return { data: resizeAreaFast2x(src, dstW, dstH), width: dstW, height: dstH, channels: cn };
  }
  const xTab = axisTable(sw, dstW, true);
  const yTab = axisTable(sh, dstH, false);
  const rowLen = dstW * cn;
  const out = new Uint8Array(dstH * rowLen);
  // Cache the last two horizontally resampled source rows (consecutive outputs share them).
  const cache = new Map<number, Int32Array>();
  const rowAt = (r: number): Int32Array => {
    const clipped = Math.min(Math.max(r, 0), sh - 1);
    let row = cache.get(clipped);
    if (row === undefined) {
      row = new Int32Array(rowLen);
      horizontalPass(src, clipped, xTab, row);
      if (cache.size >= 4) cache.delete(cache.keys().next().value as number);
      cache.set(clipped, row);
    }
    return row;
  };
  for (let dy = 0; dy < dstH; dy++) {
    const sy = yTab.offset[dy];
    verticalPass(rowAt(sy), rowAt(sy + 1), yTab.w0[dy], yTab.w1[dy], out, dy * rowLen);
  }
  return { data: out, width: dstW, height: dstH, channels: cn };
}

/** LViT's mask rule after the bilinear resize: any value > 0 becomes foreground 1. */
export function thresholdMask(resized: Uint8Array): Uint8Array {
  const out = new Uint8Array(resized.length);
  for (let i = 0; i < resized.length; i++) out[i] = resized[i] > 0 ? 1 : 0;
  return out;
}
