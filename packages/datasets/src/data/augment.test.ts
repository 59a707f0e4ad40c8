import { Rng, type SegSample } from '@lvit-bench/core';
import { describe, expect, test } from 'vitest';
import {
  applyLViTAugmentation,
  augmentLViT,
  drawLViTAugmentation,
  rot90FlipIndexMap,
  rotateNearestIndexMap,
} from './augment.js';

/** out[i] = src[map[i]] or 0, for a 1-channel grid. */
function applyMap(src: number[], map: Int32Array): number[] {
  return [...map].map((s) => (s < 0 ? 0 : src[s]));
}

const range = (n: number, from = 1) => Array.from({ length: n }, (_, i) => i + from);

describe('rot90 + flip index maps vs numpy', () => {
  // numpy: a = [[1,2,3],[9,10,11],[17,18,19]]; np.rot90(a, k).flatten()
  const a = [1, 2, 3, 9, 10, 11, 17, 18, 19];
  const rot = [
    [1, 2, 3, 9, 10, 11, 17, 18, 19],
    [3, 11, 19, 2, 10, 18, 1, 9, 17],
    [19, 18, 17, 11, 10, 9, 3, 2, 1],
    [17, 9, 1, 18, 10, 2, 19, 11, 3],
  ];
  test.each([0, 1, 2, 3])('rot90 k=%i then flip on both axes', (k) => {
    const r = rot[k];
    const flip0 = [6, 7, 8, 3, 4, 5, 0, 1, 2].map((i) => r[i]); // np.flip(axis=0): rows reversed
    const flip1 = [2, 1, 0, 5, 4, 3, 8, 7, 6].map((i) => r[i]); // np.flip(axis=1): columns reversed
    expect(applyMap(a, rot90FlipIndexMap(3, k, 0))).toEqual(flip0);
    expect(applyMap(a, rot90FlipIndexMap(3, k, 1))).toEqual(flip1);
  });
});

describe('nearest rotation vs scipy.ndimage.rotate(order=0, reshape=False)', () => {
  // Reference values printed by scipy 1.17.1: a = np.arange(1, 65, dtype=np.uint8).reshape(8, 8).
  const a8 = range(64);
  test.each([
    [13, [0, 0, 0, 0, 6, 7, 16, 0, 2, 11, 12, 13, 14, 15, 23, 0, 9, 10, 19, 20, 21, 22, 31, 0, 17, 18, 27, 28, 29, 30, 39, 0, 0, 26, 35, 36, 37, 38, 47, 48, 0, 34, 43, 44, 45, 46, 55, 56, 0, 42, 50, 51, 52, 53, 54, 63, 0, 49, 58, 59, 0, 0, 0, 0]],
    [-20, [0, 0, 10, 3, 4, 0, 0, 0, 0, 17, 18, 11, 12, 13, 6, 0, 0, 26, 27, 20, 20, 21, 14, 15, 33, 34, 35, 28, 29, 30, 23, 24, 41, 42, 35, 36, 37, 30, 31, 32, 50, 51, 44, 45, 45, 38, 39, 0, 0, 59, 52, 53, 54, 47, 48, 0, 0, 0, 0, 61, 62, 55, 0, 0]],
    [19, [0, 0, 0, 5, 6, 15, 0, 0, 0, 3, 12, 13, 14, 23, 24, 0, 10, 11, 20, 21, 21, 30, 31, 0, 17, 18, 27, 28, 29, 38, 39, 40, 25, 26, 27, 36, 37, 38, 47, 48, 0, 34, 35, 44, 44, 45, 54, 55, 0, 41, 42, 51, 52, 53, 62, 0, 0, 0, 50, 59, 60, 0, 0, 0]],
  ])('8x8 by %i degrees', (angle, expected) => {
    expect(applyMap(a8, rotateNearestIndexMap(8, 8, angle))).toEqual(expected);
  });

  test('non-square 5x7 by -7 degrees', () => {
    const expected = [0, 2, 3, 4, 0, 0, 0, 0, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 0, 0, 0, 0, 32, 33, 34, 0];
    expect(applyMap(range(35), rotateNearestIndexMap(5, 7, -7))).toEqual(expected);
  });

  test('3x3x2 by 17 degrees rotates every channel plane the same way', () => {
    // scipy: c = np.arange(1, 19).reshape(3, 3, 2); ndimage.rotate(c, 17, order=0, reshape=False)
    const sample: SegSample = { id: 'x', image: Float32Array.from(range(18)), mask: new Uint8Array(9), text: 't' };
    const out = applyLViTAugmentation(sample, 3, 3, 2, { kind: 'rotate', angleDeg: 17 });
    expect([...out.image]).toEqual([0, 0, 3, 4, 0, 0, 7, 8, 9, 10, 11, 12, 0, 0, 15, 16, 0, 0]);
  });

  test('angle 0 is the identity', () => {
    expect([...rotateNearestIndexMap(6, 6, 0)]).toEqual(range(36, 0));
  });
});

function makeSample(n: number, channels: number, seed: number): SegSample {
  const rng = new Rng(seed);
  const image = new Float32Array(n * n * channels);
  for (let i = 0; i < image.length; i++) image[i] = rng.int(256) / 255;
  const mask = new Uint8Array(n * n);
  for (let i = 0; i < mask.length; i++) mask[i] = rng.next() < 0.3 ? 1 : 0;
  return { id: 's', image, mask, text: 'The nuclei density in the upper right is high.' };
}

const sortedValues = (a: ArrayLike<number>) => Float64Array.from(a).sort();

describe('augmentLViT', () => {
  test('draw frequencies follow the official branches: 1/2 rot+flip, 1/4 rotate, 1/4 none', () => {
    const rng = new Rng(123);
    const counts = { none: 0, 'rot90-flip': 0, rotate: 0 };
    const angles = new Set<number>();
    const ks = new Set<number>();
    for (let i = 0; i < 8000; i++) {
      const d = drawLViTAugmentation(rng);
      counts[d.kind]++;
      if (d.kind === 'rotate') angles.add(d.angleDeg);
      if (d.kind === 'rot90-flip') ks.add(d.k);
    }
    expect(counts['rot90-flip'] / 8000).toBeCloseTo(0.5, 1);
    expect(counts.rotate / 8000).toBeCloseTo(0.25, 1);
    expect(counts.none / 8000).toBeCloseTo(0.25, 1);
    // numpy randint(-20, 20) excludes 20.
    expect(Math.min(...angles)).toBe(-20);
    expect(Math.max(...angles)).toBe(19);
    expect([...ks].sort()).toEqual([0, 1, 2, 3]);
  });

  test('shape, mask values, unchanged text and input, for many draws', () => {
    const s = makeSample(16, 3, 1);
    const before = { image: s.image.slice(), mask: s.mask.slice() };
    const rng = new Rng(7);
    for (let i = 0; i < 40; i++) {
      const out = augmentLViT(s, 16, 16, 3, rng);
      expect(out.image.length).toBe(16 * 16 * 3);
      expect(out.mask.length).toBe(16 * 16);
      expect(out.mask.every((v) => v === 0 || v === 1)).toBe(true);
      expect(out.text).toBe(s.text);
      expect(out.id).toBe(s.id);
    }
    expect(s.image).toEqual(before.image);
    expect(s.mask).toEqual(before.mask);
  });

  test('rot90 + flip preserves the pixel multiset and keeps image/mask aligned', () => {
    const s = makeSample(9, 3, 2);
    // Encode the mask into the image's first channel so alignment can be checked after the transform.
    for (let p = 0; p < 81; p++) s.image[p * 3] = s.mask[p];
    for (let k = 0; k < 4; k++) {
      for (const axis of [0, 1] as const) {
        const out = applyLViTAugmentation(s, 9, 9, 3, { kind: 'rot90-flip', k, axis });
        expect(sortedValues(out.image)).toEqual(sortedValues(s.image));
        expect(sortedValues(out.mask)).toEqual(sortedValues(s.mask));
        for (let p = 0; p < 81; p++) expect(out.image[p * 3]).toBe(out.mask[p]);
      }
    }
  });

  test('rotation keeps image and mask aligned (same nearest source pixel, zero fill)', () => {
    const s = makeSample(12, 1, 3);
    for (let p = 0; p < 144; p++) s.image[p] = s.mask[p];
    const out = applyLViTAugmentation(s, 12, 12, 1, { kind: 'rotate', angleDeg: -17 });
    expect([...out.image]).toEqual([...out.mask]);
    expect(out.image.some((v, p) => v !== s.image[p])).toBe(true);
  });

  test('same seed gives the same augmentation, another seed a different one', () => {
    const s = makeSample(10, 3, 4);
    const run = (seed: number) => {
      const rng = new Rng(seed);
      return Array.from({ length: 6 }, () => augmentLViT(s, 10, 10, 3, rng));
    };
    const [a, b, c] = [run(5), run(5), run(6)];
    a.forEach((x, i) => {
      expect(x.image).toEqual(b[i].image);
      expect(x.mask).toEqual(b[i].mask);
    });
    expect(a.some((x, i) => x.image.some((v, j) => v !== c[i].image[j]))).toBe(true);
  });

  test('rejects wrong buffer sizes and non-square images', () => {
    const s = makeSample(4, 3, 5);
    expect(() => augmentLViT(s, 4, 4, 1, new Rng(1))).toThrow(/expected 4x4x1/);
    expect(() => augmentLViT(s, 4, 3, 3, new Rng(1))).toThrow(/square/);
  });
});
