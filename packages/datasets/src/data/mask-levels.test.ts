/**
 * Masks that are not two-level: detected per file at decode time, reported once per split with a
 * count and an example (cached and uncached loads alike), an error naming the file in strict mode.
 * Generated PNGs: a clean 0/255 mask, a 0/1 mask, a hand-made anti-aliased edge with known
 * counts, a sharp-blurred mask and a JPEG-compressed one.
 */
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { describe, expect, test } from 'vitest';
import { loadDataset } from './load.js';
import { inspectMaskLevels, maskLevelMessages } from './mask-levels.js';
import { readPreparedDataset } from './prepared.js';
import { FIXTURE_H, FIXTURE_W, makeStagedMonuseg, patternMask, tempDir, writeRawPng } from './test-fixtures.js';

const W = FIXTURE_W;
const H = FIXTURE_H;

/** A 12x10 mask: a 4x4 block of 255 at (4,3), ringed by 128 (its 12 edge neighbours) and four 64 corners. */
function antiAliasedMask(): Uint8Array {
  const m = new Uint8Array(W * H);
  for (let y = 2; y < 8; y++) {
    for (let x = 3; x < 9; x++) {
      const edgeY = y === 2 || y === 7;
      const edgeX = x === 3 || x === 8;
      m[y * W + x] = edgeX && edgeY ? 64 : edgeX || edgeY ? 128 : 255;
    }
  }
  return m;
}

test('inspectMaskLevels on hand-computed cases', () => {
  expect(inspectMaskLevels(patternMask(W, H, 1), 'clean.png')).toBeUndefined();
  expect(inspectMaskLevels(new Uint8Array(W * H), 'empty.png')).toBeUndefined();
  expect(inspectMaskLevels(new Uint8Array(W * H).fill(255), 'full.png')).toBeUndefined();
  expect(inspectMaskLevels(patternMask(W, H, 1).map((v) => (v ? 1 : 0)), 'ones.png')).toEqual({
    mask: 'ones.png',
    kind: 'foreground-level',
    levels: 2,
    foreground: 1,
    between: 0,
  });
  // 6x6 ring region: 16 inner 255s, 16 edge 128s, 4 corner 64s; 120 pixels in all.
  expect(inspectMaskLevels(antiAliasedMask(), 'aa.png')).toEqual({ mask: 'aa.png', kind: 'not-two-level', levels: 4, foreground: 255, between: 20 / 120 });
  // Two non-zero levels and no zero at all is not two-level either (everything would be foreground).
  expect(inspectMaskLevels(new Uint8Array(W * H).fill(100).fill(255, 0, 10), 'nozero.png')?.kind).toBe('not-two-level');
});

test('messages: one warning per split with the count and the first file; 0/1 masks are a note', () => {
  const aa = inspectMaskLevels(antiAliasedMask(), 'train/masks/a.png')!;
  const ones = inspectMaskLevels(patternMask(W, H, 1).map((v) => (v ? 1 : 0)), 'train/masks/c.png')!;
  const { warnings, notes } = maskLevelMessages('train', [aa, { ...aa, mask: 'train/masks/b.png' }, ones], 24, '/data/monuseg');
  expect(warnings).toEqual([
    'train: 2 of 24 masks are not two-level, e.g. /data/monuseg/train/masks/a.png (4 grey levels, 16.7% of pixels between 0 and 255); ' +
      'they are binarised with > 0 as LViT does, which counts every grey pixel as foreground (--strict-masks makes this an error).',
  ]);
  expect(notes).toEqual([
    'train: 1 of 24 masks store foreground as 1 instead of 255, e.g. /data/monuseg/train/masks/c.png (foreground 1); two-level, but the bilinear ' +
      "resize rounds a low level mixed with 0 down to 0, so after > 0 they come out thinner than the same masks stored as 0/255 (LViT's loader does the same).",
  ]);
});

/** The staged MoNuSeg fixture with train a = 0/1, train b = anti-aliased, val d = blurred, test g = JPEG; the rest clean. */
async function datasetWithOddMasks(): Promise<{ root: string; dir: string }> {
  const root = tempDir('mask-levels');
  const { dir } = await makeStagedMonuseg(root);
  await writeRawPng(join(dir, 'train', 'masks', 'a.png'), patternMask(W, H, 1).map((v) => (v ? 1 : 0)), W, H, 1);
  await writeRawPng(join(dir, 'train', 'masks', 'b.png'), antiAliasedMask(), W, H, 1);
  const block = sharp(Buffer.from(patternMask(W, H, 4)), { raw: { width: W, height: H, channels: 1 } });
  await block.clone().blur(1.5).png().toFile(join(dir, 'val', 'masks', 'd.png'));
  // A JPEG stored under the .png name, as a careless conversion leaves it (the decoder sniffs the content).
  await sharp(Buffer.from(patternMask(W, H, 7)), { raw: { width: W, height: H, channels: 1 } }).jpeg({ quality: 40 }).toFile(join(dir, 'test', 'masks', 'g.png'));
  return { root, dir };
}

describe('loadDataset reports masks that are not two-level', async () => {
  const { root, dir } = await datasetWithOddMasks();
  const cacheDir = tempDir('mask-levels-cache');
  const fresh = await loadDataset({ dataset: 'monuseg', root, imageSize: 8, cacheDir });
  const cached = await loadDataset({ dataset: 'monuseg', root, imageSize: 8, cacheDir });

  test('one warning per affected split, with a count and an example file', () => {
    expect(fresh.cache?.hit).toBe(false);
    expect(fresh.warnings).toHaveLength(3);
    expect(fresh.warnings[0]).toMatch(new RegExp(`^train: 1 of 3 masks are not two-level, e\\.g\\. ${dir}/train/masks/b\\.png \\(4 grey levels, 16\\.7% of pixels`));
    expect(fresh.warnings[1]).toMatch(new RegExp(`^val: 1 of 2 masks are not two-level, e\\.g\\. ${dir}/val/masks/d\\.png \\(\\d+ grey levels`));
    expect(fresh.warnings[2]).toMatch(new RegExp(`^test: 1 of 2 masks are not two-level, e\\.g\\. ${dir}/test/masks/g\\.png`));
    expect(fresh.notes).toContainEqual(expect.stringMatching(new RegExp(`^train: 1 of 3 masks store foreground as 1 instead of 255, e\\.g\\. ${dir}/train/masks/a\\.png`)));
  });

  test('the official rule is kept (resize, then > 0): a 0/1 mask comes out thinner than its 0/255 original, as in cv2', async () => {
    const cleanRoot = tempDir('mask-levels-clean');
    await makeStagedMonuseg(cleanRoot);
    const reference = await loadDataset({ dataset: 'monuseg', root: cleanRoot, imageSize: 8, useCache: false });
    expect(reference.warnings).toEqual([]);
    // cv2.resize(mask, (8, 8), INTER_LINEAR) > 0 on this 3x3 block at (1,3): 9 pixels from 0/255, 5 from 0/1 (checked with python3-opencv).
    const foreground = (m: Uint8Array) => m.reduce((n, v) => n + v, 0);
    expect(foreground(reference.train.mask(0))).toBe(9);
    expect(foreground(fresh.train.mask(0))).toBe(5);
  });

  test('a load from the cache gives the same warnings and notes', () => {
    expect(cached.cache?.hit).toBe(true);
    expect(cached.warnings).toEqual(fresh.warnings);
    expect(cached.notes).toEqual(fresh.notes);
  });

  test('a prepared file read on its own names the masks relative to the dataset folder', () => {
    const copy = join(tempDir('mask-levels-copy'), 'copy.lvitds');
    copyFileSync(fresh.cache!.path, copy);
    expect(readPreparedDataset(copy).warnings[0]).toMatch(/^train: 1 of 3 masks are not two-level, e\.g\. train\/masks\/b\.png \(4 grey levels/);
  });

  test('strictMasks: an error naming the first such file, uncached and from the cache', async () => {
    await expect(loadDataset({ dataset: 'monuseg', root, imageSize: 8, useCache: false, strictMasks: true })).rejects.toThrow(
      new RegExp(`${dir}/train/masks/b\\.png \\(4 grey levels, 16\\.7% of pixels between 0 and 255\\): mask is not two-level`),
    );
    const progress: string[] = [];
    await expect(
      loadDataset({ dataset: 'monuseg', root, imageSize: 8, cacheDir, strictMasks: true, onProgress: (_d, _t, what) => progress.push(what) }),
    ).rejects.toThrow(/train\/masks\/b\.png .*: mask is not two-level/);
    expect(progress).toEqual([`cache ${fresh.cache!.path}`]); // it was the cached finding, nothing was decoded
  });

  test('strictMasks accepts 0/1 and clean masks', async () => {
    const okRoot = tempDir('mask-levels-ok');
    const { dir: okDir } = await makeStagedMonuseg(okRoot);
    await writeRawPng(join(okDir, 'train', 'masks', 'a.png'), patternMask(W, H, 1).map((v) => (v ? 1 : 0)), W, H, 1);
    const ds = await loadDataset({ dataset: 'monuseg', root: okRoot, imageSize: 8, useCache: false, strictMasks: true });
    expect(ds.warnings).toEqual([]);
    expect(ds.notes).toContainEqual(expect.stringMatching(/train: 1 of 3 masks store foreground as 1/));
  });
});
