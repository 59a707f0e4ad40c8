/** Layout detection: staged or official LViT, found under a data root without being told which. */
import { renameSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { findDatasetSource } from './layout.js';
import { loadDataset } from './load.js';
import { makeLViTQata, makeStagedMonuseg, makeStagedQata, tempDir } from './test-fixtures.js';

describe('findDatasetSource', () => {
  test('a staged root (monuseg/, qata/) is staged; the dataset folder itself works too', async () => {
    const root = tempDir('layout-staged');
    const { dir } = await makeStagedMonuseg(root);
    await makeStagedQata(root);
    expect(findDatasetSource(root, 'monuseg')).toEqual({ layout: 'staged', dir });
    expect(findDatasetSource(root, 'qata')).toEqual({ layout: 'staged', dir: join(root, 'qata') });
    expect(findDatasetSource(dir, 'monuseg')).toEqual({ layout: 'staged', dir });
  });

  test("an LViT root: LViT's folder names (Covid19), ours (qata), or the dataset folder itself", async () => {
    const root = tempDir('layout-lvit');
    const dir = await makeLViTQata(root);
    expect(findDatasetSource(root, 'qata')).toEqual({ layout: 'lvit', dir });
    expect(findDatasetSource(dir, 'qata')).toEqual({ layout: 'lvit', dir });
    renameSync(dir, join(root, 'qata'));
    expect(findDatasetSource(root, 'qata')).toEqual({ layout: 'lvit', dir: join(root, 'qata') });
  });

  test('both layouts under one root: an error asking for --layout; a forced layout picks one', async () => {
    const root = tempDir('layout-both');
    await makeStagedQata(root);
    const lvitDir = await makeLViTQata(root);
    expect(() => findDatasetSource(root, 'qata')).toThrow(/both layouts hold qata \(staged at .*\/qata, LViT at .*\/Covid19\); pass --layout staged or --layout lvit/);
    expect(findDatasetSource(root, 'qata', 'lvit')).toEqual({ layout: 'lvit', dir: lvitDir });
    expect(findDatasetSource(root, 'qata', 'staged').layout).toBe('staged');
  });

  test('a forced layout that is not there names what it looked for; an unknown layout is an error', async () => {
    const root = tempDir('layout-forced');
    await makeLViTQata(root);
    expect(() => findDatasetSource(root, 'qata', 'staged')).toThrow(/no staged qata dataset: none of .*qata\/splits\.csv, .*splits\.csv exists/);
    expect(() => findDatasetSource(root, 'qata', 'lvt' as never)).toThrow(/unknown layout "lvt" \(staged, lvit, auto\)/);
  });
});

test('loadDataset detects the LViT layout by default and records it in its settings', async () => {
  const root = tempDir('layout-load');
  await makeLViTQata(root);
  const ds = await loadDataset({ dataset: 'qata', root, imageSize: 4, useCache: false });
  expect(ds.settings.layout).toBe('lvit');
  expect([ds.train.size, ds.val.size, ds.test.size]).toEqual([2, 1, 2]);
});
