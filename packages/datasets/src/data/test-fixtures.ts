/**
 * Test-only helpers (not exported from the package): tiny on-disk datasets in both layouts and a
 * minimal xlsx writer (stored zip + inline strings), so loader tests need no real downloads.
 */
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import sharp from 'sharp';
import { afterAll } from 'vitest';
import { zipBytes } from '@lvit-bench/core';

const created: string[] = [];
// Registered while a test file is being collected (this module is imported only by tests).
afterAll(() => {
  for (const dir of created.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A fresh temp folder, removed after the test file that made it. */
export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), `lvit-${prefix}-`));
  created.push(dir);
  return dir;
}

function xmlEscape(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Write a one-sheet xlsx whose cells are the given strings (inline strings). */
export function writeXlsx(path: string, rows: string[][]): void {
  const col = (j: number) => String.fromCharCode(65 + j);
  const sheetRows = rows
    .map((row, i) => `<row r="${i + 1}">${row.map((v, j) => `<c r="${col(j)}${i + 1}" t="inlineStr"><is><t>${xmlEscape(v)}</t></is></c>`).join('')}</row>`)
    .join('');
  writeXlsxXml(path, sheetRows);
}

/** Write a one-sheet xlsx from raw `<sheetData>` XML and, when given, a shared-string table (raw `<si>` items). */
export function writeXlsxXml(path: string, sheetData: string, sharedStringItems?: string[]): void {
  const main = 'http://schemas.openxmlformats.org/spreadsheetml/2006/main';
  const files: Record<string, string> = {
    '[Content_Types].xml':
      '<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">' +
      '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>' +
      '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>' +
      '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>',
    '_rels/.rels':
      '<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">' +
      '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>',
    'xl/workbook.xml':
      `<?xml version="1.0" encoding="UTF-8" standalone="yes"?><workbook xmlns="${main}" ` +
      'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>',
    'xl/_rels/workbook.xml.rels':
      '<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">' +
      '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>',
    'xl/worksheets/sheet1.xml': `<?xml version="1.0" encoding="UTF-8" standalone="yes"?><worksheet xmlns="${main}"><sheetData>${sheetData}</sheetData></worksheet>`,
  };
  if (sharedStringItems !== undefined) {
    files['xl/sharedStrings.xml'] = `<?xml version="1.0" encoding="UTF-8" standalone="yes"?><sst xmlns="${main}">${sharedStringItems.join('')}</sst>`;
  }
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, zipBytes(Object.entries(files).map(([name, text]) => ({ name, data: Buffer.from(text, 'utf8') }))));
}

/** A small deterministic test pattern: colour image and a mask with one foreground block. */
export function patternImage(width: number, height: number, channels: 1 | 3, salt: number): Uint8Array {
  const out = new Uint8Array(width * height * channels);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      for (let c = 0; c < channels; c++) out[(y * width + x) * channels + c] = (x * 17 + y * 29 + c * 71 + salt * 13) % 256;
    }
  }
  return out;
}

export function patternMask(width: number, height: number, salt: number): Uint8Array {
  const out = new Uint8Array(width * height);
  const x0 = salt % Math.max(1, width - 3);
  const y0 = (salt * 3) % Math.max(1, height - 3);
  for (let y = y0; y < Math.min(height, y0 + 3); y++) for (let x = x0; x < Math.min(width, x0 + 3); x++) out[y * width + x] = 255;
  return out;
}

export async function writeRawPng(path: string, data: Uint8Array, width: number, height: number, channels: 1 | 3): Promise<void> {
  mkdirSync(dirname(path), { recursive: true });
  await sharp(Buffer.from(data), { raw: { width, height, channels } }).png().toFile(path);
}

export async function writeRawTiff(path: string, data: Uint8Array, width: number, height: number, channels: 1 | 3): Promise<void> {
  mkdirSync(dirname(path), { recursive: true });
  await sharp(Buffer.from(data), { raw: { width, height, channels } }).tiff({ compression: 'packbits' }).toFile(path);
}

function csvField(v: string): string {
  return /[",\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
}

export function writeCsv(path: string, header: string[], rows: string[][]): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, [header, ...rows].map((r) => r.map(csvField).join(',')).join('\n') + '\n');
}

export const FIXTURE_W = 12;
export const FIXTURE_H = 10;

/** A staged MoNuSeg-like folder: <root>/monuseg with 3/2/2 samples of 12x10 RGB. */
export async function makeStagedMonuseg(root: string): Promise<{ dir: string; names: Record<'train' | 'val' | 'test', string[]> }> {
  const dir = join(root, 'monuseg');
  const names = { train: ['a.png', 'b.png', 'c.png'], val: ['d.png', 'e.png'], test: ['f.png', 'g.png'] };
  const rows: string[][] = [];
  let salt = 0;
  for (const split of ['train', 'val', 'test'] as const) {
    for (const name of names[split]) {
      salt++;
      await writeRawPng(join(dir, split, 'images', name), patternImage(FIXTURE_W, FIXTURE_H, 3, salt), FIXTURE_W, FIXTURE_H, 3);
      await writeRawPng(join(dir, split, 'masks', name), patternMask(FIXTURE_W, FIXTURE_H, salt), FIXTURE_W, FIXTURE_H, 1);
      rows.push([name, `The nuclei, sample "${name}", are evenly distributed.`, split]);
    }
  }
  writeCsv(join(dir, 'text.csv'), ['image', 'text', 'split'], rows);
  return { dir, names };
}

/** A staged QaTa-like folder: <root>/qata, grey 12x10 images; one val image is not staged. */
export async function makeStagedQata(root: string): Promise<{ dir: string }> {
  const dir = join(root, 'qata');
  const samples = [
    ['covid_1.png', 'train', '1'],
    ['covid_2.png', 'train', '1'],
    ['covid_3.png', 'val', '1'],
    ['covid_4.png', 'val', '0'],
    ['sub-S1_ses-E1.png', 'test', '1'],
    ['sub-S1_ses-E2.png', 'test', '1'],
  ] as const;
  const splits: string[][] = [];
  const trainVal: string[][] = [];
  const testSg: string[][] = [];
  const testLvit: string[][] = [];
  let salt = 0;
  for (const [image, split, staged] of samples) {
    salt++;
    const mask = `mask_${image}`;
    if (staged === '1') await writeRawPng(join(dir, 'images', image), patternImage(FIXTURE_W, FIXTURE_H, 1, salt), FIXTURE_W, FIXTURE_H, 1);
    await writeRawPng(join(dir, 'masks', mask), patternMask(FIXTURE_W, FIXTURE_H, salt), FIXTURE_W, FIXTURE_H, 1);
    splits.push([image, mask, split, staged]);
    const sg = `unilateral pulmonary infection, one infected area, lower left lung ${salt}.`;
    if (split === 'test') {
      testSg.push([image, mask, sg, split, '1', '1', '001000', staged]);
      testLvit.push([image, mask, `Unilateral pulmonary infection, one infected area, lower left lung ${salt}.`, split]);
    } else trainVal.push([image, mask, sg, split, '1', '1', '001000', staged]);
  }
  const textHeader = ['image', 'mask', 'text', 'split', 'pulmonary_infection', 'infected_area', 'pseudo_label', 'image_staged'];
  writeCsv(join(dir, 'splits.csv'), ['image', 'mask', 'split', 'image_staged'], splits);
  writeCsv(join(dir, 'text_trainval.csv'), textHeader, trainVal);
  writeCsv(join(dir, 'text_test_sgseg.csv'), textHeader, testSg);
  writeCsv(join(dir, 'text.csv'), ['image', 'mask', 'text', 'split'], testLvit);
  return { dir };
}

/**
 * An official-layout MoNuSeg folder whose names come from LViT's real workbooks (copied from
 * shared/data/monuseg/raw): 24/6/14 tiny images; test images are TIFF like LViT's.
 */
export async function makeLViTMonuseg(root: string, rawDir: string, names: Record<'train' | 'val' | 'test', string[]>): Promise<string> {
  const dir = join(root, 'MoNuSeg');
  const title = { train: 'Train', val: 'Val', test: 'Test' } as const;
  let salt = 0;
  for (const split of ['train', 'val', 'test'] as const) {
    const folder = join(dir, `${title[split]}_Folder`);
    copyFileSync(join(rawDir, `${title[split]}_text.xlsx`), join(mkdirP(folder), `${title[split]}_text.xlsx`));
    for (const maskName of names[split]) {
      salt++;
      const stemName = maskName.replace(/\.png$/, '');
      const img = patternImage(8, 8, 3, salt);
      if (split === 'test') await writeRawTiff(join(folder, 'img', `${stemName}.tif`), img, 8, 8, 3);
      else await writeRawPng(join(folder, 'img', maskName), img, 8, 8, 3);
      await writeRawPng(join(folder, 'labelcol', maskName), patternMask(8, 8, salt), 8, 8, 1);
    }
  }
  return dir;
}

function mkdirP(dir: string): string {
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** An official-layout QaTa ("Covid19") folder with Train_Val_text.xlsx shared by train and val. */
export async function makeLViTQata(root: string): Promise<string> {
  const dir = join(root, 'Covid19');
  const split = { train: ['covid_1.png', 'covid_2.png'], val: ['covid_3.png'], test: ['sub-S9_ses-E9.png', 'sub-S9_ses-E8.png'] };
  const title = { train: 'Train', val: 'Val', test: 'Test' } as const;
  const trainVal: string[][] = [['Image', 'Description']];
  const test: string[][] = [['Image', 'Description']];
  let salt = 0;
  for (const s of ['train', 'val', 'test'] as const) {
    for (const image of split[s]) {
      salt++;
      const folder = join(dir, `${title[s]}_Folder`);
      await writeRawPng(join(folder, 'img', image), patternImage(8, 8, 1, salt), 8, 8, 1);
      await writeRawPng(join(folder, 'labelcol', `mask_${image}`), patternMask(8, 8, salt), 8, 8, 1);
      (s === 'test' ? test : trainVal).push([`mask_${image}`, `Bilateral pulmonary infection, two infected areas, case ${salt}.`]);
    }
  }
  writeXlsx(join(dir, 'Train_Folder', 'Train_Val_text.xlsx'), trainVal);
  writeXlsx(join(dir, 'Test_Folder', 'Test_text.xlsx'), test);
  return dir;
}
