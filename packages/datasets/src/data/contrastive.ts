/**
 * LViT's contrastive labels for the language-vision loss (LVIT.md §2.2): the official
 * `LV_loss/` folder, staged as qata/lv_loss (lv_loss.csv = LV_loss.xlsx with columns image,text,
 * and fig1..fig14.png, 350x350 palette masks). Decoded and resized exactly as dataset masks are
 * (cv2 grey read, bilinear resize, > 0), so they sit on the model grid like a ground truth.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ContrastiveLabel } from '@lvit-bench/core';
import { readCsvTable } from './csv.js';
import { decodeMaskBytes } from './decode.js';
import { resizeLinearU8, thresholdMask } from './resize.js';

export const CONTRASTIVE_LABELS_CSV = 'lv_loss.csv';

export async function loadContrastiveLabels(dir: string, size: number): Promise<ContrastiveLabel[]> {
  const csvPath = join(dir, CONTRASTIVE_LABELS_CSV);
  if (!existsSync(csvPath)) throw new Error(`${csvPath}: missing (the LV loss needs LViT's contrastive labels, LV_loss.xlsx exported as CSV with columns image,text)`);
  const table = readCsvTable(csvPath, ['image', 'text']);
  const labels: ContrastiveLabel[] = [];
  for (const { line, values } of table.rows) {
    const image = values.image.trim();
    const text = values.text.trim();
    const path = join(dir, image);
    if (!image || !text) throw new Error(`${csvPath}:${line}: empty image or text`);
    if (!existsSync(path)) throw new Error(`${path}: contrastive label listed in ${csvPath} is missing`);
    const mask = await decodeMaskBytes(readFileSync(path), path);
    const resized = thresholdMask(resizeLinearU8(mask, size, size).data);
    if (!resized.some((v) => v === 1)) throw new Error(`${path}: contrastive label mask is empty`);
    labels.push({ id: image, text, mask: resized });
  }
  if (labels.length === 0) throw new Error(`${csvPath}: no contrastive labels listed`);
  return labels;
}
