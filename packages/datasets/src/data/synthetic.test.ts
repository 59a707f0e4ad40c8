import { describe, expect, test } from 'vitest';
import { makeSyntheticDataset } from './synthetic.js';

const WORDS: Record<string, number> = { One: 1, Two: 2, Three: 3 };

/** Count 4-connected foreground components of an n x n mask. */
function components(mask: Uint8Array, n: number): { count: number; centroids: [number, number][] } {
  const seen = new Uint8Array(mask.length);
  const centroids: [number, number][] = [];
  for (let start = 0; start < mask.length; start++) {
    if (!mask[start] || seen[start]) continue;
    const stack = [start];
    seen[start] = 1;
    let [sy, sx, k] = [0, 0, 0];
    while (stack.length) {
      const p = stack.pop()!;
      const [y, x] = [Math.floor(p / n), p % n];
      sy += y;
      sx += x;
      k++;
      for (const [dy, dx] of [[1, 0], [-1, 0], [0, 1], [0, -1]]) {
        const [yy, xx] = [y + dy, x + dx];
        const q = yy * n + xx;
        if (yy >= 0 && yy < n && xx >= 0 && xx < n && mask[q] && !seen[q]) {
          seen[q] = 1;
          stack.push(q);
        }
      }
    }
    centroids.push([sy / k, sx / k]);
  }
  return { count: centroids.length, centroids };
}

describe('makeSyntheticDataset', () => {
  const ds = makeSyntheticDataset({ size: 48, seed: 11, counts: { train: 12, val: 3, test: 5 } });

  test('shapes, sizes and value ranges', () => {
    expect(ds.name).toBe('synthetic');
    expect([ds.train.size, ds.val.size, ds.test.size]).toEqual([12, 3, 5]);
    const s = ds.train.sample(0);
    expect(s.image.length).toBe(48 * 48 * 3);
    expect(s.mask.length).toBe(48 * 48);
    expect(s.image.every((v) => v >= 0 && v <= 1)).toBe(true);
    expect(s.mask.every((v) => v === 0 || v === 1)).toBe(true);
    expect(ds.train.ids[0]).toBe('syn-train-0000');
  });

  test.each([48, 16, 8])('the sentence states the number of shapes and their quadrant (size %i)', (size) => {
    const d = makeSyntheticDataset({ size, seed: 11, counts: { train: 12, val: 3, test: 5 } });
    const half = size / 2;
    for (const split of [d.train, d.val, d.test]) {
      for (let i = 0; i < split.size; i++) {
        const { mask, text } = split.sample(i);
        const m = /^(One|Two|Three) (nucleus|nuclei) in the (upper|lower) (left|right)\.$/.exec(text);
        expect(m, text).not.toBeNull();
        const { count, centroids } = components(mask, size);
        expect(count).toBe(WORDS[m![1]]);
        for (const [y, x] of centroids) {
          expect(y < half).toBe(m![3] === 'upper');
          expect(x < half).toBe(m![4] === 'left');
        }
      }
    }
  });

  test('foreground is brighter than background', () => {
    const { image, mask } = ds.train.sample(1);
    let [fg, bg, nf, nb] = [0, 0, 0, 0];
    mask.forEach((m, p) => {
      const v = image[3 * p] + image[3 * p + 1] + image[3 * p + 2];
      if (m) [fg, nf] = [fg + v, nf + 1];
      else [bg, nb] = [bg + v, nb + 1];
    });
    expect(fg / nf).toBeGreaterThan(bg / nb + 1);
  });

  test('deterministic per seed; a different seed differs', () => {
    const again = makeSyntheticDataset({ size: 48, seed: 11, counts: { train: 12, val: 3, test: 5 } });
    const other = makeSyntheticDataset({ size: 48, seed: 12, counts: { train: 12, val: 3, test: 5 } });
    expect(again.train.sample(3)).toEqual(ds.train.sample(3));
    expect(again.manifestHash).toBe(ds.manifestHash);
    expect(other.train.sample(3).image).not.toEqual(ds.train.sample(3).image);
    expect(other.manifestHash).not.toBe(ds.manifestHash);
  });

  test('rejects tiny sizes and empty splits', () => {
    expect(() => makeSyntheticDataset({ size: 4, seed: 1 })).toThrow(/>= 8/);
    expect(() => makeSyntheticDataset({ size: 16, seed: 1, counts: { train: 0, val: 1, test: 1 } })).toThrow(/counts.train/);
  });
});
