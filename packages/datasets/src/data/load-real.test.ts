/**
 * The staged loaders on the real shared/data (found via resolveDataRoot, as in CI where shared/
 * sits beside the repo clone), at a small image size.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { describe, expect, test } from 'vitest';
import { loadDataset } from './load.js';
import { resolveDataRoot } from './paths.js';
import type { PreparedDataset } from './prepared.js';
import { PreparedSplit } from './prepared.js';
import { tempDir } from './test-fixtures.js';

const root = resolveDataRoot();
const cacheDir = tempDir('real-cache');

function meanForeground(split: PreparedDataset['train']): number {
  let sum = 0;
  for (let i = 0; i < split.size; i++) {
    const m = split.sample(i).mask;
    sum += m.reduce((a, b) => a + b, 0) / m.length;
  }
  return sum / split.size;
}

describe('staged MoNuSeg (real data, 64 px)', async () => {
  const progress: number[] = [];
  const ds = await loadDataset({ dataset: 'monuseg', imageSize: 64, cacheDir, onProgress: (done) => progress.push(done) });

  test('LViT split sizes 24/6/14, shapes and provenance', () => {
    expect([ds.train.size, ds.val.size, ds.test.size]).toEqual([24, 6, 14]);
    for (const s of [ds.train, ds.val, ds.test]) expect([s.height, s.width, s.channels]).toEqual([64, 64, 3]);
    // The hash of MANIFEST.sha256 printed in shared/data/README.md.
    expect(ds.manifestHash).toBe('88eb75b617f305d0715e002ff9f20526a8fdc47400a33c5cb23189182ac7f7f2');
    expect(ds.manifestHash).toBe(createHash('sha256').update(readFileSync(join(root, 'monuseg', 'MANIFEST.sha256'))).digest('hex'));
    expect(progress.at(-1)).toBe(44);
  });

  test('ids and text come from text.csv (LVIT.md §3.2 examples)', () => {
    const i = ds.train.ids.indexOf('TCGA-21-5786-01Z-00-DX1');
    expect(ds.train.sample(i).text).toBe('The nuclei density in the upper right is high.');
    expect(ds.val.sample(ds.val.ids.indexOf('TCGA-18-5592-01Z-00-DX1')).text).toBe('The nuclei density in the left is high.');
    expect(ds.test.sample(ds.test.ids.indexOf('TCGA-44-2665-01B-06-BS6')).text).toBe('The nuclei density in the lower left is high.');
  });

  test('mask foreground near the README figures (0.269/0.242/0.198 at 1000 px), slightly dilated by > 0', () => {
    const [tr, va, te] = [meanForeground(ds.train), meanForeground(ds.val), meanForeground(ds.test)];
    // At 64 px the bilinear + > 0 rule dilates thin gaps, so fractions rise but stay in range.
    expect(tr).toBeGreaterThan(0.26);
    expect(tr).toBeLessThan(0.45);
    expect(va).toBeGreaterThan(0.23);
    expect(va).toBeLessThan(0.45);
    expect(te).toBeGreaterThan(0.19);
    expect(te).toBeLessThan(0.4);
    expect(te).toBeLessThan(tr);
  });

  test('images are in BGR order (cv2) and in [0,1]: channel means match the file\'s B, G, R means', async () => {
    const id = ds.train.ids[0];
    const stats = await sharp(join(root, 'monuseg', 'train', 'images', `${id}.png`)).stats();
    const [r, g, b] = stats.channels.map((c) => c.mean / 255);
    const { image } = ds.train.sample(0);
    const mean = [0, 1, 2].map((c) => image.filter((_, i) => i % 3 === c).reduce((x, y) => x + y, 0) / (64 * 64));
    expect(image.every((v) => v >= 0 && v <= 1)).toBe(true);
    // Bilinear shrinking keeps the mean up to sampling noise; R and B differ by > 0.07 here.
    expect(Math.abs(b - r)).toBeGreaterThan(0.07);
    expect(mean[0]).toBeCloseTo(b, 1);
    expect(mean[1]).toBeCloseTo(g, 1);
    expect(mean[2]).toBeCloseTo(r, 1);
    expect((ds.train as PreparedSplit).raw.storedChannels).toBe(3);
  });

  test('rgb option swaps the channel order of the same pixels', async () => {
    const rgb = await loadDataset({ dataset: 'monuseg', imageSize: 64, cacheDir, channelOrder: 'rgb', limits: { train: 1, val: 1, test: 2 } });
    const id = rgb.test.ids[1];
    const [a, b] = [ds.test.sample(ds.test.ids.indexOf(id)).image, rgb.test.sample(1).image];
    for (const p of [0, 100, 4095]) expect([b[3 * p], b[3 * p + 1], b[3 * p + 2]]).toEqual([a[3 * p + 2], a[3 * p + 1], a[3 * p]]);
    expect(rgb.cache?.path).not.toBe(ds.cache?.path);
  });
});

describe('staged QaTa (real data, small limits)', async () => {
  const ds = await loadDataset({ dataset: 'qata', imageSize: 32, cacheDir, limits: { train: 12, val: 5, test: 6 } });

  test('limits give seeded subsets; notes state the 300 staged val images and the text source', () => {
    expect([ds.train.size, ds.val.size, ds.test.size]).toEqual([12, 5, 6]);
    expect(ds.settings.sourceCounts).toEqual({ train: 5716, val: 300, test: 2113 });
    expect(ds.manifestHash).toBe('bdd60894b79a6ee3c582f4b2145d76a3692e527ad7d0507b1fa557e4d9aa8f65');
    expect(ds.notes.some((n) => /only the 300 staged images of 1429/.test(n))).toBe(true);
    expect(ds.notes.some((n) => /SGSeg-normalised/.test(n))).toBe(true);
    // Grey X-rays are stored once and replicated to 3 equal channels.
    expect((ds.train as PreparedSplit).raw.storedChannels).toBe(1);
    const { image, mask, text } = ds.train.sample(0);
    expect(image[0]).toBe(image[1]);
    expect(image[1]).toBe(image[2]);
    expect(mask.some((v) => v === 1)).toBe(true);
    expect(text).toMatch(/pulmonary infection/);
  });

  test('the same limitSeed picks the same subset; another seed another one', async () => {
    const again = await loadDataset({ dataset: 'qata', imageSize: 32, cacheDir, limits: { train: 12, val: 5, test: 6 } });
    const other = await loadDataset({ dataset: 'qata', imageSize: 32, cacheDir, limits: { train: 12, val: 5, test: 6 }, limitSeed: 1 });
    expect(again.train.ids).toEqual(ds.train.ids);
    expect(again.cache?.hit).toBe(true);
    expect(other.train.ids).not.toEqual(ds.train.ids);
  });

  test('qataTestText: lvit uses the verbatim LViT test sentences', async () => {
    const lvit = await loadDataset({ dataset: 'qata', imageSize: 32, cacheDir, limits: { train: 2, val: 2, test: 6 }, qataTestText: 'lvit' });
    expect(lvit.test.ids).toEqual(ds.test.ids);
    for (let i = 0; i < lvit.test.size; i++) expect(lvit.test.sample(i).text).toMatch(/^(Bilateral|Unilateral) pulmonary infection/);
    expect(ds.test.sample(0).text).toMatch(/^(bilateral|unilateral) pulmonary infection/);
    expect(lvit.notes.some((n) => /verbatim LViT/.test(n))).toBe(true);
  });
});
