import { Rng } from '@lvit-bench/core';
import { describe, expect, test } from 'vitest';
import { resizeLinearU8, thresholdMask, type ImageU8 } from './resize.js';

/** Naive float bilinear with half-pixel centres and edge clamping (what INTER_LINEAR approximates). */
function floatBilinear(src: ImageU8, dw: number, dh: number): Float64Array {
  const { data, width: sw, height: sh, channels: cn } = src;
  const out = new Float64Array(dw * dh * cn);
  const coord = (d: number, s: number, n: number) => {
    const f = Math.min(Math.max((d + 0.5) * (s / n) - 0.5, 0), s - 1);
    const i0 = Math.floor(f);
    return [i0, Math.min(i0 + 1, s - 1), f - i0] as const;
  };
  for (let y = 0; y < dh; y++) {
    const [y0, y1, fy] = coord(y, sh, dh);
    for (let x = 0; x < dw; x++) {
      const [x0, x1, fx] = coord(x, sw, dw);
      for (let c = 0; c < cn; c++) {
        const at = (yy: number, xx: number) => data[(yy * sw + xx) * cn + c];
        const top = at(y0, x0) * (1 - fx) + at(y0, x1) * fx;
        const bottom = at(y1, x0) * (1 - fx) + at(y1, x1) * fx;
        out[(y * dw + x) * cn + c] = top * (1 - fy) + bottom * fy;
      }
    }
  }
  return out;
}

function randomImage(w: number, h: number, cn: number, seed: number): ImageU8 {
  const rng = new Rng(seed);
  const data = new Uint8Array(w * h * cn);
  for (let i = 0; i < data.length; i++) data[i] = rng.int(256);
  return { data, width: w, height: h, channels: cn };
}

describe('resizeLinearU8 (cv2 INTER_LINEAR, 8-bit)', () => {
  test('1x4 -> 1x3 row, hand-computed', () => {
    // scale = 4/3. Output x=0: f = float(0.5*4/3 - 0.5) = 0.16666667 -> taps (0,1), weights
    // round(0.8333333*2048) = 1707 and round(0.16666667*2048) = 341.
    // x=1: f = 1.5 -> taps (1,2), weights 1024/1024. x=2: f = 2.8333333 -> taps (2,3), 341/1707.
    // Horizontal sums: 10*1707+20*341 = 23890; 20*1024+30*1024 = 51200; 30*341+40*1707 = 78510.
    // Height 1 -> 1: vertical weights 2048/0: ((S >> 4) * 2048 >> 16 + 2) >> 2:
    // 23890 -> 1493 -> 46 -> 12; 51200 -> 3200 -> 100 -> 25; 78510 -> 4906 -> 153 -> 38 (real cv2: 12, 25, 38).
    const out = resizeLinearU8({ data: Uint8Array.from([10, 20, 30, 40]), width: 4, height: 1, channels: 1 }, 3, 1);
    expect([...out.data]).toEqual([12, 25, 38]);
  });

  test('4x4x3 -> 3x3x3, hand-checked (the SIMD kernel\'s truncating arithmetic)', () => {
    // Pixel (y, x, c) = 10(x+1) + 60y + 7c. Both axes use the taps/weights of the row case above.
    const src = new Uint8Array(4 * 4 * 3);
    for (let y = 0; y < 4; y++) for (let x = 0; x < 4; x++) for (let c = 0; c < 3; c++) src[(y * 4 + x) * 3 + c] = 10 * (x + 1) + 60 * y + 7 * c;
    const out = resizeLinearU8({ data: src, width: 4, height: 4, channels: 3 }, 3, 3);
    // out(0,0,0): rows 0,1 -> 23890 and 70*1707+80*341 = 146770; weights 1707/341.
    //   SIMD: ((23890>>4)*1707 >> 16) + ((146770>>4)*341 >> 16) = 38 + 47 = 85; (85+2)>>2 = 21
    //   (the exact value is 21.67: the SIMD kernel's truncations give 21, the scalar formula 22).
    // out(2,2,2): rows 2,3 -> 164*341+174*1707 = 352942 and 224*341+234*1707 = 475822;
    //   ((22058*341 >> 16) + (29738*1707 >> 16) + 2) >> 2 = (114 + 774 + 2) >> 2 = 222.
    // All 27 values equal real cv2.resize (OpenCV 4.6.0).
    expect([...out.data]).toEqual([
      21, 29, 36, 35, 42, 49, 48, 55, 62, 102, 109, 116, 115, 122, 129, 128, 135, 142, 182, 189, 196, 195, 202, 209, 208, 215, 222,
    ]);
    expect(out.data[0]).toBe(21);
    expect(out.data[26]).toBe(222);
  });

  test('exact 2x shrink uses INTER_AREA fast path: (a+b+c+d+2)>>2', () => {
    const src = Uint8Array.from([1, 2, 10, 11, 4, 4, 12, 14]); // 4x2, 1 channel
    const out = resizeLinearU8({ data: src, width: 4, height: 2, channels: 1 }, 2, 1);
    // (1+2+4+4+2)>>2 = 3 (11/4 = 2.75); (10+11+12+14+2)>>2 = 12 (47/4 = 11.75)
    expect([...out.data]).toEqual([3, 12]);
  });

  test('upscale clamps taps at the borders (1x2 -> 1x4)', () => {
    // x=0: f=-0.25 -> clamped to pixel 0; x=1: f=0.25 -> 0.75*100+0.25*200 = 125; x=2: 175; x=3: f=1.25 -> pixel 1.
    const out = resizeLinearU8({ data: Uint8Array.from([100, 200]), width: 2, height: 1, channels: 1 }, 4, 1);
    expect([...out.data]).toEqual([100, 125, 175, 200]);
  });

  test('same size is a copy', () => {
    const img = randomImage(5, 4, 3, 1);
    const out = resizeLinearU8(img, 5, 4);
    expect([...out.data]).toEqual([...img.data]);
    expect(out.data).not.toBe(img.data);
  });

  test.each([
    [50, 37, 11, 9, 3],
    [40, 40, 17, 17, 1],
    [7, 5, 13, 11, 3],
    [100, 100, 22, 22, 3],
  ])('%ix%i -> %ix%i (c=%i) within 1 of float bilinear', (sw, sh, dw, dh, cn) => {
    const img = randomImage(sw, sh, cn, sw * 7 + dw);
    const out = resizeLinearU8(img, dw, dh);
    const ref = floatBilinear(img, dw, dh);
    let maxDiff = 0;
    for (let i = 0; i < ref.length; i++) maxDiff = Math.max(maxDiff, Math.abs(out.data[i] - ref[i]));
    expect(maxDiff).toBeLessThanOrEqual(1);
  });

  test('constant image stays constant after shrinking and enlarging', () => {
    const img: ImageU8 = { data: new Uint8Array(30 * 20 * 3).fill(173), width: 30, height: 20, channels: 3 };
    for (const [w, h] of [[11, 7], [64, 45]]) expect(new Set(resizeLinearU8(img, w, h).data)).toEqual(new Set([173]));
  });

  test('rejects bad sizes and short buffers', () => {
    expect(() => resizeLinearU8({ data: new Uint8Array(3), width: 2, height: 2, channels: 1 }, 2, 2)).toThrow(/expected 2x2x1/);
    expect(() => resizeLinearU8(randomImage(2, 2, 1, 0), 0, 2)).toThrow(/positive integers/);
  });
});

describe('thresholdMask (LViT: mask > 0 -> 1)', () => {
  test('any interpolated non-zero becomes foreground', () => {
    expect([...thresholdMask(Uint8Array.from([0, 1, 127, 255, 0]))]).toEqual([0, 1, 1, 1, 0]);
  });

  test('bilinear resize then > 0 dilates a single foreground pixel', () => {
    // 4x4 mask with one 255 pixel at (1,1), shrunk to 3x3 (weights 1707/341, 1024/1024, ...):
    // every output whose taps touch (1,1) with a non-zero weight, and whose value survives the
    // fixed-point rounding, becomes 1.
    const mask = new Uint8Array(16);
    mask[1 * 4 + 1] = 255;
    const resized = resizeLinearU8({ data: mask, width: 4, height: 4, channels: 1 }, 3, 3);
    const bin = thresholdMask(resized.data);
    // Output (0,0) taps rows/cols (0,1) with weight 341/2048 on (1,1): 255*341*341/2048^2 = 7.07 -> 7 > 0.
    // Output (1,1) taps (1,2) x (1,2), weight 1024^2/2048^2 on (1,1): 63.75 -> 63 or 64 > 0.
    // Output (2,2) taps (2,3) x (2,3): never touches (1,1) -> 0.
    expect(resized.data[0]).toBeGreaterThan(0);
    expect([...bin]).toEqual([1, 1, 0, 1, 1, 0, 0, 0, 0]);
  });
});
