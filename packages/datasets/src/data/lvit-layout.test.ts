/** The official LViT folder layout, on tiny generated fixtures (names from LViT's real workbooks). */
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { loadDataset } from './load.js';
import { resolveDataRoot } from './paths.js';
import { resizeLinearU8, thresholdMask } from './resize.js';
import { readXlsxFirstSheet } from './xlsx.js';
import { makeLViTMonuseg, makeLViTQata, patternImage, patternMask, tempDir, writeXlsx } from './test-fixtures.js';

const rawDir = join(resolveDataRoot(), 'monuseg', 'raw');

function workbookNames(split: 'Train' | 'Val' | 'Test'): string[] {
  return readXlsxFirstSheet(join(rawDir, `${split}_text.xlsx`))
    .slice(1)
    .map((r) => r.cells[0]);
}

describe('LViT layout: MoNuSeg with the real workbooks', async () => {
  const names = { train: workbookNames('Train'), val: workbookNames('Val'), test: workbookNames('Test') };
  const root = tempDir('lvit-monuseg');
  const dir = await makeLViTMonuseg(root, rawDir, names);
  const cacheDir = tempDir('lvit-cache');
  const ds = await loadDataset({ dataset: 'monuseg', layout: 'lvit', root, imageSize: 6, cacheDir });

  test('24/6/14 samples, ids = file stems, text from the workbook (Image = mask name)', () => {
    expect([ds.train.size, ds.val.size, ds.test.size]).toEqual([24, 6, 14]);
    const i = ds.train.ids.indexOf('TCGA-21-5786-01Z-00-DX1');
    expect(ds.train.sample(i).text).toBe('The nuclei density in the upper right is high.');
    expect(ds.test.sample(ds.test.ids.indexOf('TCGA-44-2665-01B-06-BS6')).text).toBe('The nuclei density in the lower left is high.');
    expect(ds.settings.layout).toBe('lvit');
    expect(ds.manifestHash).toMatch(/^[0-9a-f]{64}$/);
  });

  test('pixels = cv2 pipeline on the fixture (TIFF test images decode too)', () => {
    // The fixture's k-th image (1-based over train, val, test in workbook order) is patternImage(8,8,3,k).
    const k = names.train.length + names.val.length + 1 + names.test.indexOf(`${ds.test.ids[0]}.png`);
    const rgb = patternImage(8, 8, 3, k);
    const bgr = new Uint8Array(rgb.length);
    for (let p = 0; p < 64; p++) [bgr[3 * p], bgr[3 * p + 1], bgr[3 * p + 2]] = [rgb[3 * p + 2], rgb[3 * p + 1], rgb[3 * p]];
    const expectedImage = resizeLinearU8({ data: bgr, width: 8, height: 8, channels: 3 }, 6, 6).data;
    const expectedMask = thresholdMask(resizeLinearU8({ data: patternMask(8, 8, k), width: 8, height: 8, channels: 1 }, 6, 6).data);
    const s = ds.test.sample(0);
    expect([...s.image].map((v) => Math.round(v * 255))).toEqual([...expectedImage]);
    expect([...s.mask]).toEqual([...expectedMask]);
  });

  test('root may be the dataset folder itself or its parent', async () => {
    const direct = await loadDataset({ dataset: 'monuseg', layout: 'lvit', root: dir, imageSize: 6, cacheDir });
    expect(direct.cache?.hit).toBe(true);
    expect(direct.train.ids).toEqual(ds.train.ids);
  });
});

describe('LViT layout: QaTa ("Covid19") with one Train_Val_text.xlsx', async () => {
  const root = tempDir('lvit-qata');
  await makeLViTQata(root);
  const ds = await loadDataset({ dataset: 'qata', layout: 'lvit', root, imageSize: 4, cacheDir: tempDir('lvit-cache') });

  test('mask_<image> naming; train and val both read Train_Val_text.xlsx', () => {
    expect(ds.train.ids).toEqual(['covid_1', 'covid_2']);
    expect(ds.val.ids).toEqual(['covid_3']);
    expect(ds.test.ids).toEqual(['sub-S9_ses-E8', 'sub-S9_ses-E9']);
    expect(ds.val.sample(0).text).toBe('Bilateral pulmonary infection, two infected areas, case 3.');
    expect(ds.test.sample(1).text).toBe('Bilateral pulmonary infection, two infected areas, case 4.');
  });

  test('a Train_Val row whose image is in neither train nor val is an error', async () => {
    const bad = tempDir('lvit-qata-bad');
    const dir = await makeLViTQata(bad);
    writeXlsx(join(dir, 'Train_Folder', 'Train_Val_text.xlsx'), [
      ['Image', 'Description'],
      ['mask_covid_1.png', 'a'],
      ['mask_covid_2.png', 'b'],
      ['mask_covid_3.png', 'c'],
      ['mask_covid_99.png', 'orphan'],
    ]);
    await expect(loadDataset({ dataset: 'qata', layout: 'lvit', root: bad, imageSize: 4, useCache: false })).rejects.toThrow(
      /Train_Val_text\.xlsx row 5: text row for mask_covid_99\.png, but no such image/,
    );
  });
});
