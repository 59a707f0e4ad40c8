/** The prepared-dataset cache: round trip, no re-decoding on a hit, self-contained copies, corruption. */
import { createHash } from 'node:crypto';
import { copyFileSync, readdirSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { loadDataset } from './load.js';
import { PreparedSplit, readPreparedDataset, type PreparedDataset } from './prepared.js';
import { FIXTURE_H, FIXTURE_W, makeStagedMonuseg, makeStagedQata, patternImage, tempDir, writeRawPng } from './test-fixtures.js';

function expectSameSplits(a: PreparedDataset, b: PreparedDataset): void {
  for (const split of ['train', 'val', 'test'] as const) {
    expect(b[split].ids).toEqual(a[split].ids);
    for (let i = 0; i < a[split].size; i++) expect(b[split].sample(i)).toEqual(a[split].sample(i));
  }
}

/** Overwrite a file with garbage of the same size and restore its mtime (a stat-based key cannot tell). */
function corruptKeepingStat(path: string): void {
  const st = statSync(path);
  writeFileSync(path, Buffer.alloc(st.size, 0x5a));
  utimesSync(path, st.atime, st.mtime);
}

function writeManifest(dir: string, files: string[]): void {
  const lines = files.sort().map((rel) => `${createHash('sha256').update(readFileSync(join(dir, rel))).digest('hex')}  ${rel}`);
  writeFileSync(join(dir, 'MANIFEST.sha256'), lines.join('\n') + '\n');
}

describe('prepared cache', () => {
  test('round trip: the second load reads the file and returns identical samples', async () => {
    const root = tempDir('cache-rt');
    await makeStagedMonuseg(root);
    const cacheDir = tempDir('cache-dir');
    const first = await loadDataset({ dataset: 'monuseg', root, imageSize: 8, cacheDir });
    const second = await loadDataset({ dataset: 'monuseg', root, imageSize: 8, cacheDir });
    expect(first.cache?.hit).toBe(false);
    expect(second.cache?.hit).toBe(true);
    expect(second.cache?.path).toBe(first.cache?.path);
    expect(second.manifestHash).toBe(first.manifestHash);
    expect(second.settings).toEqual(first.settings);
    expect(second.notes).toEqual(first.notes);
    expectSameSplits(first, second);
    expect(readdirSync(join(cacheDir, 'prepared')).filter((f) => f.includes('.tmp-'))).toEqual([]);
  });

  test('a hit decodes nothing: corrupted PNGs (same size and mtime) still load from the cache', async () => {
    const root = tempDir('cache-nodecode');
    const { dir, names } = await makeStagedMonuseg(root);
    const cacheDir = tempDir('cache-dir');
    const first = await loadDataset({ dataset: 'monuseg', root, imageSize: 8, cacheDir });
    for (const split of ['train', 'val', 'test'] as const) {
      for (const n of names[split]) {
        corruptKeepingStat(join(dir, split, 'images', n));
        corruptKeepingStat(join(dir, split, 'masks', n));
      }
    }
    const progress: string[] = [];
    const second = await loadDataset({ dataset: 'monuseg', root, imageSize: 8, cacheDir, onProgress: (_d, _t, what) => progress.push(what) });
    expect(second.cache?.hit).toBe(true);
    expect(progress).toEqual([`cache ${first.cache!.path}`]);
    expectSameSplits(first, second);
    // Without the cache the corruption is found, naming the file.
    await expect(loadDataset({ dataset: 'monuseg', root, imageSize: 8, useCache: false })).rejects.toThrow(/a\.png: cannot decode image/);
  });

  test('staged folder with MANIFEST.sha256: keyed by the manifest, and files are verified when preparing', async () => {
    const root = tempDir('cache-manifest');
    const { dir } = await makeStagedQata(root);
    const files = ['splits.csv', 'text_trainval.csv', 'text_test_sgseg.csv', 'text.csv', ...readdirSync(join(dir, 'images')).map((f) => `images/${f}`), ...readdirSync(join(dir, 'masks')).map((f) => `masks/${f}`)];
    writeManifest(dir, files);
    const cacheDir = tempDir('cache-dir');
    const first = await loadDataset({ dataset: 'qata', root, imageSize: 6, cacheDir });
    expect(first.manifestHash).toBe(createHash('sha256').update(readFileSync(join(dir, 'MANIFEST.sha256'))).digest('hex'));
    writeFileSync(join(dir, 'images', 'covid_1.png'), 'not a png'); // size and mtime change; manifest does not
    expect((await loadDataset({ dataset: 'qata', root, imageSize: 6, cacheDir })).cache?.hit).toBe(true);
    await expect(loadDataset({ dataset: 'qata', root, imageSize: 6, useCache: false })).rejects.toThrow(
      /images\/covid_1\.png: sha256 [0-9a-f]+ does not match .*MANIFEST\.sha256/,
    );
  });

  test('different settings give a different file', async () => {
    const root = tempDir('cache-settings');
    await makeStagedMonuseg(root);
    const cacheDir = tempDir('cache-dir');
    const a = await loadDataset({ dataset: 'monuseg', root, imageSize: 8, cacheDir });
    const b = await loadDataset({ dataset: 'monuseg', root, imageSize: 5, cacheDir });
    const c = await loadDataset({ dataset: 'monuseg', root, imageSize: 8, cacheDir, limits: { train: 2 } });
    expect(new Set([a.cache?.path, b.cache?.path, c.cache?.path]).size).toBe(3);
    expect([b.cache?.hit, c.cache?.hit]).toEqual([false, false]);
    expect(b.train.height).toBe(5);
    expect(c.train.size).toBe(2);
  });

  test('a prepared file is self-contained: a copy elsewhere reads back without any data root', async () => {
    const root = tempDir('cache-copy');
    await makeStagedMonuseg(root);
    const ds = await loadDataset({ dataset: 'monuseg', root, imageSize: 8, cacheDir: tempDir('cache-dir') });
    const copy = join(tempDir('elsewhere'), 'monuseg.lvitds');
    copyFileSync(ds.cache!.path, copy);
    const read = readPreparedDataset(copy);
    expectSameSplits(ds, read);
    expect(read.manifestHash).toBe(ds.manifestHash);
    expect(read.settings).toEqual(ds.settings);
    expect((read.train as PreparedSplit).raw.storedChannels).toBe(3);
  });

  test('a corrupted or truncated file is detected; loadDataset rebuilds it and says so', async () => {
    const root = tempDir('cache-corrupt');
    await makeStagedMonuseg(root);
    const cacheDir = tempDir('cache-dir');
    const ds = await loadDataset({ dataset: 'monuseg', root, imageSize: 8, cacheDir });
    const path = ds.cache!.path;
    const bytes = readFileSync(path);
    bytes[bytes.length - 5] ^= 0xff;
    writeFileSync(path, bytes);
    expect(() => readPreparedDataset(path)).toThrow(/data checksum mismatch/);
    writeFileSync(path, bytes.subarray(0, bytes.length - 3));
    expect(() => readPreparedDataset(path)).toThrow(/truncated/);
    const rebuilt = await loadDataset({ dataset: 'monuseg', root, imageSize: 8, cacheDir });
    expect(rebuilt.cache?.hit).toBe(false);
    expect(rebuilt.notes.some((n) => /unreadable and has been rebuilt/.test(n))).toBe(true);
    expectSameSplits(ds, rebuilt);
    expect(readPreparedDataset(path).train.size).toBe(3);
  });

  test('a grey image among colour ones is replicated into the 3-channel store', async () => {
    const root = tempDir('cache-mixed');
    const { dir } = await makeStagedMonuseg(root);
    await writeRawPng(join(dir, 'val', 'images', 'e.png'), patternImage(FIXTURE_W, FIXTURE_H, 1, 5), FIXTURE_W, FIXTURE_H, 1);
    const ds = await loadDataset({ dataset: 'monuseg', root, imageSize: 8, cacheDir: tempDir('cache-dir') });
    expect((ds.val as PreparedSplit).raw.storedChannels).toBe(3);
    const grey = ds.val.sample(ds.val.ids.indexOf('e')).image;
    const colour = ds.val.sample(ds.val.ids.indexOf('d')).image;
    for (let p = 0; p < 64; p++) expect([grey[3 * p + 1], grey[3 * p + 2]]).toEqual([grey[3 * p], grey[3 * p]]);
    expect(colour.some((v, i) => i % 3 === 0 && v !== colour[i + 1])).toBe(true);
  });
});
