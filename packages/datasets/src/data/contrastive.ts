/**
 * LViT's contrastive labels for the language-vision loss (LVIT.md §2.2): the official
 * `LV_loss/` folder (LV_loss.xlsx with columns Image, Description, and fig1..fig14.png, 350x350
 * palette masks), staged as qata/lv_loss with lv_loss.csv (columns image,text) beside the xlsx.
 * Decoded and resized exactly as dataset masks are (cv2 grey read, bilinear resize, > 0), so they
 * sit on the model grid like a ground truth.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { ContrastiveLabel } from '@lvit-bench/core';
import { readCsvTable } from './csv.js';
import { decodeMaskBytes } from './decode.js';
import type { DatasetSource } from './layout.js';
import { readLViTWorkbook } from './lvit-layout.js';
import { resizeLinearU8, thresholdMask } from './resize.js';

export const CONTRASTIVE_LABELS_CSV = 'lv_loss.csv';
const CONTRASTIVE_LABELS_XLSX = 'LV_loss.xlsx';

/**
 * The contrastive-label folder of a dataset: staged `<dir>/lv_loss`; for the LViT layout the
 * official repository's `LV_loss/`, looked for beside the dataset folder and two levels up
 * (LViT keeps it at the repo root, datasets under `datasets/<task>`).
 */
export function findContrastiveLabelsDir(source: DatasetSource): string {
  if (source.layout === 'staged') return join(source.dir, 'lv_loss');
  const candidates = [source.dir, dirname(source.dir), dirname(dirname(source.dir))].map((d) => join(d, 'LV_loss'));
  const dir = candidates.find((d) => existsSync(join(d, CONTRASTIVE_LABELS_XLSX)));
  if (dir === undefined) {
    throw new Error(`no LViT contrastive labels for the LV loss: none of ${candidates.map((d) => join(d, CONTRASTIVE_LABELS_XLSX)).join(', ')} exists`);
  }
  return dir;
}

/** (image, text, where) rows from lv_loss.csv, or else from LV_loss.xlsx. */
function labelRows(dir: string): { table: string; rows: { image: string; text: string; where: string }[] } {
  const csvPath = join(dir, CONTRASTIVE_LABELS_CSV);
  const xlsxPath = join(dir, CONTRASTIVE_LABELS_XLSX);
  if (existsSync(csvPath)) {
    const rows = readCsvTable(csvPath, ['image', 'text']).rows.map(({ line, values }) => ({ image: values.image.trim(), text: values.text.trim(), where: `${csvPath}:${line}` }));
    return { table: csvPath, rows };
  }
  if (existsSync(xlsxPath)) {
    return { table: xlsxPath, rows: [...readLViTWorkbook(xlsxPath)].map(([image, row]) => ({ image, text: row.text, where: row.where })) };
  }
  throw new Error(`${csvPath}: missing, and so is ${xlsxPath} (the LV loss needs LViT's contrastive labels: LV_loss.xlsx, or it as CSV with columns image,text)`);
}

export async function loadContrastiveLabels(dir: string, size: number): Promise<ContrastiveLabel[]> {
  const { table, rows } = labelRows(dir);
  const labels: ContrastiveLabel[] = [];
  for (const { image, text, where } of rows) {
    const path = join(dir, image);
    if (!image || !text) throw new Error(`${where}: empty image or text`);
    if (!existsSync(path)) throw new Error(`${path}: contrastive label listed in ${table} is missing`);
    const mask = await decodeMaskBytes(readFileSync(path), path);
    const resized = thresholdMask(resizeLinearU8(mask, size, size).data);
    if (!resized.some((v) => v === 1)) throw new Error(`${path}: contrastive label mask is empty`);
    labels.push({ id: image, text, mask: resized });
  }
  if (labels.length === 0) throw new Error(`${table}: no contrastive labels listed`);
  return labels;
}
