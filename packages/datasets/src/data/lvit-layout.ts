/**
 * The official LViT folder layout (README §1.2, `Load_Dataset.py`, LVIT.md §3.1), so users can point
 * the suite at their own downloads:
 *   <root>/{Train,Val,Test}_Folder/{img,labelcol}/...  and text workbooks with columns
 *   `Image` (= the MASK file name) and `Description`.
 * MoNuSeg: mask = image name with its extension replaced by .png; texts in <Split>_Folder/<Split>_text.xlsx.
 * QaTa (LViT's "Covid19"): mask = mask_<image name>; one Train_Folder/Train_Val_text.xlsx serves
 * train and val (as train_model.py reads it); Test_Folder/Test_text.xlsx for test.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { SplitName } from './prepared.js';
import {
  listImageFiles,
  requireNonEmpty,
  requireUniqueIds,
  stem,
  type DatasetName,
  type SourceListing,
  type SourceSample,
} from './sources.js';
import { readXlsxFirstSheet } from './xlsx.js';

const FOLDER: Record<SplitName, string> = { train: 'Train_Folder', val: 'Val_Folder', test: 'Test_Folder' };
const TITLE: Record<SplitName, string> = { train: 'Train', val: 'Val', test: 'Test' };

interface TextRow {
  text: string;
  where: string;
}

/** Read an LViT text workbook: sheet 1, header row with `Image` and `Description`; messages give the sheet's row numbers. */
export function readLViTWorkbook(path: string): Map<string, TextRow> {
  const [header, ...rows] = readXlsxFirstSheet(path);
  if (header === undefined) throw new Error(`${path}: empty workbook (expected a header row with Image, Description)`);
  const names = header.cells.map((c) => c.trim());
  const imageCol = names.indexOf('Image');
  const textCol = names.indexOf('Description');
  if (imageCol < 0 || textCol < 0) {
    const missing = [imageCol < 0 ? 'Image' : '', textCol < 0 ? 'Description' : ''].filter(Boolean).join(', ');
    throw new Error(`${path}: missing column(s) ${missing} (header has: ${names.join(', ')})`);
  }
  const out = new Map<string, TextRow>();
  for (const { row, cells } of rows) {
    const where = `${path} row ${row}`;
    const image = (cells[imageCol] ?? '').trim();
    const text = (cells[textCol] ?? '').trim();
    if (image === '' && text === '') continue; // rows with content in other columns only
    if (image === '') throw new Error(`${where}: empty Image cell`);
    if (text === '') throw new Error(`${where}: empty Description for ${image}`);
    if (out.has(image)) throw new Error(`${where}: duplicate row for ${image} (first at ${out.get(image)!.where})`);
    out.set(image, { text, where });
  }
  return out;
}

function maskNameFor(dataset: DatasetName, image: string): string {
  return dataset === 'monuseg' ? `${stem(image)}.png` : `mask_${image}`;
}

/** Candidate workbooks per split, first existing wins. */
function workbookCandidates(dir: string, dataset: DatasetName, split: SplitName): string[] {
  const own = join(dir, FOLDER[split], `${TITLE[split]}_text.xlsx`);
  if (dataset === 'qata' && split !== 'test') {
    return [join(dir, FOLDER.train, 'Train_Val_text.xlsx'), join(dir, 'Train_Val_text.xlsx'), own];
  }
  return [own];
}

/** List the LViT-layout dataset folder `dir` (the one holding {Train,Val,Test}_Folder; see layout.ts). */
export function listLViTLayout(dir: string, dataset: DatasetName): SourceListing {
  const notes = ['Read from the official LViT folder layout ({Train,Val,Test}_Folder/{img,labelcol} + text workbooks).'];
  const workbooks = new Map<string, Map<string, TextRow>>();
  const usedKeys = new Map<string, Set<string>>(); // workbook -> keys matched by an image
  const splitWorkbook = {} as Record<SplitName, string>;
  for (const split of ['train', 'val', 'test'] as const) {
    const candidates = workbookCandidates(dir, dataset, split);
    const path = candidates.find((p) => existsSync(p));
    if (path === undefined) throw new Error(`no text workbook for split ${split}: tried ${candidates.join(', ')}`);
    splitWorkbook[split] = path;
    if (!workbooks.has(path)) {
      workbooks.set(path, readLViTWorkbook(path));
      usedKeys.set(path, new Set());
    }
  }

  const splits: Record<SplitName, SourceSample[]> = { train: [], val: [], test: [] };
  for (const split of ['train', 'val', 'test'] as const) {
    const imgDir = join(dir, FOLDER[split], 'img');
    const maskDir = join(dir, FOLDER[split], 'labelcol');
    const images = listImageFiles(imgDir, `${split} img`, notes);
    const masks = new Set(listImageFiles(maskDir, `${split} labelcol`, notes));
    const book = workbooks.get(splitWorkbook[split])!;
    const matched = new Set<string>();
    for (const image of images) {
      const mask = maskNameFor(dataset, image);
      if (!masks.has(mask)) throw new Error(`${join(maskDir, mask)}: missing mask for image ${join(imgDir, image)}`);
      const row = book.get(mask);
      if (row === undefined) throw new Error(`${join(imgDir, image)}: image has no text row (Image = ${mask}) in ${splitWorkbook[split]}`);
      matched.add(mask);
      usedKeys.get(splitWorkbook[split])!.add(mask);
      splits[split].push({ id: stem(image), imagePath: join(imgDir, image), maskPath: join(maskDir, mask), text: row.text });
    }
    for (const mask of masks) {
      if (!matched.has(mask)) throw new Error(`${join(maskDir, mask)}: mask has no image in ${imgDir}`);
    }
    requireUniqueIds(splits[split], imgDir);
  }
  // Every text row must belong to an image of a split that reads that workbook.
  for (const [path, book] of workbooks) {
    const used = usedKeys.get(path)!;
    for (const [key, row] of book) {
      if (!used.has(key)) throw new Error(`${row.where}: text row for ${key}, but no such image in the split folder(s) reading this workbook`);
    }
  }
  const listing: SourceListing = {
    datasetDir: dir,
    splits,
    auxFiles: [...workbooks.keys()],
    notes,
  };
  requireNonEmpty(listing, { train: join(dir, FOLDER.train), val: join(dir, FOLDER.val), test: join(dir, FOLDER.test) });
  return listing;
}
