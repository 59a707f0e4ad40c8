/** Bad input: every error names the file and the problem. Tiny fixtures in temp dirs. */
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { parseCsv } from './csv.js';
import { loadDataset, type LoadDatasetOptions } from './load.js';
import {
  makeLViTQata,
  makeStagedMonuseg,
  makeStagedQata,
  patternImage,
  patternMask,
  tempDir,
  writeCsv,
  writeRawPng,
  writeXlsx,
} from './test-fixtures.js';

async function monuseg(): Promise<{ root: string; dir: string }> {
  const root = tempDir('err-monuseg');
  const { dir } = await makeStagedMonuseg(root);
  return { root, dir };
}

const load = (root: string, extra: Partial<LoadDatasetOptions> = {}) =>
  loadDataset({ dataset: 'monuseg', root, imageSize: 8, useCache: false, ...extra });

describe('staged MoNuSeg bad input', () => {
  test('corrupt image', async () => {
    const { root, dir } = await monuseg();
    writeFileSync(join(dir, 'train', 'images', 'b.png'), 'garbage');
    await expect(load(root)).rejects.toThrow(/train\/images\/b\.png: cannot decode image/);
  });

  test('corrupt mask', async () => {
    const { root, dir } = await monuseg();
    writeFileSync(join(dir, 'test', 'masks', 'g.png'), Buffer.from([0x89, 0x50, 0x4e, 0x47, 1, 2, 3]));
    await expect(load(root)).rejects.toThrow(/test\/masks\/g\.png: cannot decode image/);
  });

  test('missing mask', async () => {
    const { root, dir } = await monuseg();
    rmSync(join(dir, 'val', 'masks', 'd.png'));
    await expect(load(root)).rejects.toThrow(/val\/masks\/d\.png: missing mask for image .*val\/images\/d\.png/);
  });

  test('image/mask size mismatch', async () => {
    const { root, dir } = await monuseg();
    await writeRawPng(join(dir, 'train', 'masks', 'a.png'), patternMask(5, 5, 1), 5, 5, 1);
    await expect(load(root)).rejects.toThrow(/train\/masks\/a\.png: mask is 5x5 but image .*train\/images\/a\.png is 12x10/);
  });

  test('text row without an image (missing image file)', async () => {
    const { root, dir } = await monuseg();
    rmSync(join(dir, 'train', 'images', 'c.png'));
    rmSync(join(dir, 'train', 'masks', 'c.png'));
    await expect(load(root)).rejects.toThrow(/text\.csv line 4: text row for c\.png but no image .*train\/images\/c\.png/);
  });

  test('image without a text row', async () => {
    const { root, dir } = await monuseg();
    await writeRawPng(join(dir, 'test', 'images', 'extra.png'), patternImage(12, 10, 3, 9), 12, 10, 3);
    await writeRawPng(join(dir, 'test', 'masks', 'extra.png'), patternMask(12, 10, 9), 12, 10, 1);
    await expect(load(root)).rejects.toThrow(/test\/images\/extra\.png: image has no text row \(split test\) in .*text\.csv/);
  });

  test('empty split', async () => {
    const { root, dir } = await monuseg();
    for (const n of ['d.png', 'e.png']) {
      rmSync(join(dir, 'val', 'images', n));
      rmSync(join(dir, 'val', 'masks', n));
    }
    const csv = readFileSync(join(dir, 'text.csv'), 'utf8').split('\n').filter((l) => !l.endsWith(',val'));
    writeFileSync(join(dir, 'text.csv'), csv.join('\n'));
    await expect(load(root)).rejects.toThrow(/text\.csv: split val has no samples/);
  });

  test('missing text column', async () => {
    const { root, dir } = await monuseg();
    writeCsv(join(dir, 'text.csv'), ['image', 'sentence', 'split'], [['a.png', 'x', 'train']]);
    await expect(load(root)).rejects.toThrow(/text\.csv: missing column\(s\) text \(header has: image, sentence, split\)/);
  });

  test('unknown split value', async () => {
    const { root, dir } = await monuseg();
    const text = readFileSync(join(dir, 'text.csv'), 'utf8').replace(/,test\n/, ',testing\n');
    writeFileSync(join(dir, 'text.csv'), text);
    await expect(load(root)).rejects.toThrow(/text\.csv line \d+: split "testing" is not train, val or test/);
  });

  test('no dataset under the root: the error names what each layout looks for', async () => {
    await expect(load(tempDir('empty'))).rejects.toThrow(
      /no monuseg dataset under .*: looked for the staged layout \(.*monuseg\/text\.csv, .*\/text\.csv\) and the official LViT layout \(.*\/Train_Folder, .*MoNuSeg\/Train_Folder, .*\); pass --data-root DIR \(and --layout staged\|lvit to force one\)/,
    );
    await expect(load(tempDir('empty'), { layout: 'staged' })).rejects.toThrow(/no staged monuseg dataset: none of .*monuseg\/text\.csv/);
  });
});

describe('staged QaTa bad input', () => {
  test('text row without an image (not in splits.csv)', async () => {
    const root = tempDir('err-qata');
    const { dir } = await makeStagedQata(root);
    const path = join(dir, 'text_trainval.csv');
    writeFileSync(path, readFileSync(path, 'utf8') + 'covid_77.png,mask_covid_77.png,"some text",train,1,1,001000,1\n');
    await expect(loadDataset({ dataset: 'qata', root, imageSize: 4, useCache: false })).rejects.toThrow(
      /text_trainval\.csv line 6: text row for covid_77\.png, which is not in .*splits\.csv/,
    );
  });

  test('staged image missing', async () => {
    const root = tempDir('err-qata');
    const { dir } = await makeStagedQata(root);
    rmSync(join(dir, 'images', 'covid_2.png'));
    await expect(loadDataset({ dataset: 'qata', root, imageSize: 4, useCache: false })).rejects.toThrow(
      /images\/covid_2\.png: missing image \(.*splits\.csv line 3 marks it staged\)/,
    );
  });

  test('image file without a splits.csv row', async () => {
    const root = tempDir('err-qata');
    const { dir } = await makeStagedQata(root);
    await writeRawPng(join(dir, 'images', 'stray.png'), patternImage(12, 10, 1, 3), 12, 10, 1);
    await expect(loadDataset({ dataset: 'qata', root, imageSize: 4, useCache: false })).rejects.toThrow(/images\/stray\.png: image has no row in .*splits\.csv/);
  });

  test('image in splits.csv but no text row', async () => {
    const root = tempDir('err-qata');
    const { dir } = await makeStagedQata(root);
    const path = join(dir, 'text_test_sgseg.csv');
    writeFileSync(path, readFileSync(path, 'utf8').split('\n').slice(0, 2).join('\n') + '\n');
    await expect(loadDataset({ dataset: 'qata', root, imageSize: 4, useCache: false })).rejects.toThrow(
      /splits\.csv line 7: image sub-S1_ses-E2\.png has no text row in .*text_test_sgseg\.csv/,
    );
  });

  test('unstaged val image is skipped with a note, not an error', async () => {
    const root = tempDir('err-qata');
    await makeStagedQata(root);
    const ds = await loadDataset({ dataset: 'qata', root, imageSize: 4, useCache: false });
    expect(ds.val.ids).toEqual(['covid_3']);
    expect(ds.notes.some((n) => /QaTa val: only the 1 staged images of 2/.test(n))).toBe(true);
  });
});

describe('LViT layout bad input', () => {
  test('workbook without a Description column', async () => {
    const root = tempDir('err-lvit');
    const dir = await makeLViTQata(root);
    writeXlsx(join(dir, 'Test_Folder', 'Test_text.xlsx'), [['Image', 'Text'], ['mask_sub-S9_ses-E9.png', 'x']]);
    await expect(loadDataset({ dataset: 'qata', layout: 'lvit', root, imageSize: 4, useCache: false })).rejects.toThrow(
      /Test_text\.xlsx: missing column\(s\) Description \(header has: Image, Text\)/,
    );
  });

  test('image without a text row in the workbook', async () => {
    const root = tempDir('err-lvit');
    const dir = await makeLViTQata(root);
    writeXlsx(join(dir, 'Test_Folder', 'Test_text.xlsx'), [['Image', 'Description'], ['mask_sub-S9_ses-E9.png', 'x']]);
    await expect(loadDataset({ dataset: 'qata', layout: 'lvit', root, imageSize: 4, useCache: false })).rejects.toThrow(
      /Test_Folder\/img\/sub-S9_ses-E8\.png: image has no text row \(Image = mask_sub-S9_ses-E8\.png\) in .*Test_text\.xlsx/,
    );
  });

  test('missing workbook', async () => {
    const root = tempDir('err-lvit');
    const dir = await makeLViTQata(root);
    rmSync(join(dir, 'Test_Folder', 'Test_text.xlsx'));
    await expect(loadDataset({ dataset: 'qata', layout: 'lvit', root, imageSize: 4, useCache: false })).rejects.toThrow(
      /no text workbook for split test: tried .*Test_Folder\/Test_text\.xlsx/,
    );
  });

  test('mask without an image', async () => {
    const root = tempDir('err-lvit');
    const dir = await makeLViTQata(root);
    renameSync(join(dir, 'Val_Folder', 'img', 'covid_3.png'), join(dir, 'Val_Folder', 'covid_3.png'));
    await expect(loadDataset({ dataset: 'qata', layout: 'lvit', root, imageSize: 4, useCache: false })).rejects.toThrow(
      /Val_Folder\/labelcol\/mask_covid_3\.png: mask has no image/,
    );
  });

  test('not an LViT folder', async () => {
    await expect(loadDataset({ dataset: 'monuseg', layout: 'lvit', root: tempDir('empty'), imageSize: 4 })).rejects.toThrow(
      /no LViT-layout monuseg folder: none of .*Train_Folder.*MoNuSeg\/Train_Folder, .* exists/,
    );
  });
});

describe('text and folder edge cases', () => {
  test('an empty sentence in text.csv is an error naming the file and line (as the .xlsx reader does)', async () => {
    const { root, dir } = await monuseg();
    const path = join(dir, 'text.csv');
    writeFileSync(path, readFileSync(path, 'utf8').replace(/^b\.png,[^\n]*,train$/m, 'b.png,"  ",train'));
    await expect(load(root)).rejects.toThrow(/text\.csv line 3: empty text for b\.png/);
  });

  test('an empty sentence in a QaTa text table is an error too', async () => {
    const root = tempDir('err-qata');
    const { dir } = await makeStagedQata(root);
    const path = join(dir, 'text_test_sgseg.csv');
    writeFileSync(path, readFileSync(path, 'utf8').replace(/^(sub-S1_ses-E2\.png,mask_sub-S1_ses-E2\.png,)(?:"[^"]*"|[^,]*),/m, '$1,'));
    await expect(loadDataset({ dataset: 'qata', root, imageSize: 4, useCache: false })).rejects.toThrow(
      /text_test_sgseg\.csv line 3: empty text for sub-S1_ses-E2\.png/,
    );
  });

  test('non-image files in image and mask folders are ignored and named in a note (staged and LViT layouts)', async () => {
    const { root, dir } = await monuseg();
    const clean = await load(root);
    for (const name of ['README.txt', 'Thumbs.db', '.DS_Store']) writeFileSync(join(dir, 'train', 'images', name), 'not an image');
    writeFileSync(join(dir, 'val', 'masks', 'notes.md'), '# masks');
    const ds = await load(root);
    expect(ds.train.ids).toEqual(clean.train.ids);
    expect(ds.notes).toContainEqual(expect.stringMatching(/train\/images: ignored 3 file\(s\) that are not images: \.DS_Store, README\.txt, Thumbs\.db/));
    expect(ds.notes).toContainEqual(expect.stringMatching(/val\/masks: ignored 1 file\(s\) that are not images: notes\.md/));

    // A cached load lists the folder again: a README.txt added after the cache was written is named too.
    const cacheDir = tempDir('err-cache');
    const { root: cachedRoot, dir: cachedDir } = await monuseg();
    await load(cachedRoot, { useCache: true, cacheDir });
    writeFileSync(join(cachedDir, 'test', 'images', 'README.txt'), 'later');
    const again = await load(cachedRoot, { useCache: true, cacheDir });
    expect(again.cache?.hit).toBe(true);
    expect(again.notes).toContainEqual(expect.stringMatching(/test\/images: ignored 1 file\(s\) that are not images: README\.txt/));

    const lvitRoot = tempDir('err-lvit');
    const lvitDir = await makeLViTQata(lvitRoot);
    writeFileSync(join(lvitDir, 'Test_Folder', 'img', 'README.txt'), 'downloaded from ...');
    const lvit = await loadDataset({ dataset: 'qata', layout: 'lvit', root: lvitRoot, imageSize: 4, useCache: false });
    expect(lvit.test.size).toBe(2);
    expect(lvit.notes).toContainEqual(expect.stringMatching(/Test_Folder\/img: ignored 1 file\(s\) that are not images: README\.txt/));
  });
});

describe('bad options and CSV syntax', () => {
  test('options', async () => {
    const { root } = await monuseg();
    await expect(load(root, { imageSize: 0 })).rejects.toThrow(/imageSize must be a positive integer/);
    await expect(load(root, { limits: { train: 0 } })).rejects.toThrow(/limits\.train must be a positive integer/);
    await expect(load(root, { dataset: 'mosmed' as never })).rejects.toThrow(/unknown dataset "mosmed"/);
  });

  test('CSV quoting', () => {
    expect(parseCsv('a,b\r\n"x, ""y""",2\n\n3,\n')).toEqual([['a', 'b'], ['x, "y"', '2'], ['3', '']]);
    expect(() => parseCsv('a\n"open', 'f.csv')).toThrow(/f\.csv: unterminated quoted field/);
    expect(() => parseCsv('a\nx"y', 'f.csv')).toThrow(/f\.csv: stray quote/);
  });
});
