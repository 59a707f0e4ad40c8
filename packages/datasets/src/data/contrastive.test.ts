/** LViT's contrastive labels from the real shared/data/qata/lv_loss, and the loader's errors. */
import { copyFileSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { findContrastiveLabelsDir, loadContrastiveLabels } from './contrastive.js';
import { resolveDataRoot } from './paths.js';
import { tempDir } from './test-fixtures.js';

const lvDir = join(resolveDataRoot(), 'qata', 'lv_loss');

/** Mean column of the foreground, in [0, size). */
function centroidX(mask: Uint8Array, size: number): number {
  let sum = 0;
  let n = 0;
  mask.forEach((v, i) => {
    if (v) {
      sum += i % size;
      n++;
    }
  });
  return sum / n;
}

describe('contrastive labels (LV loss)', () => {
  test('the 14 official masks load at the model grid with their sentences; left lung is drawn on the image left', async () => {
    const labels = await loadContrastiveLabels(lvDir, 64);
    expect(labels.map((l) => l.id)).toEqual(Array.from({ length: 14 }, (_, i) => `fig${i + 1}.png`));
    expect(labels[0].text).toBe('Unilateral pulmonary infection, one infected area, all left lung.');
    for (const l of labels) {
      expect(l.mask.length).toBe(64 * 64);
      expect(l.mask.every((v) => v === 0 || v === 1)).toBe(true);
    }
    expect(centroidX(labels[0].mask, 64)).toBeLessThan(32); // fig1: "all left lung"
    expect(centroidX(labels[3].mask, 64)).toBeGreaterThan(32); // fig4: "all right lung"
    const bilateral = centroidX(labels[13].mask, 64); // fig14: both lungs
    expect(Math.abs(bilateral - 31.5)).toBeLessThan(6);
  });

  test("the official layout: LV_loss/LV_loss.xlsx at LViT's repo root, two levels above datasets/Covid19", async () => {
    const repo = tempDir('lv-official');
    const official = join(repo, 'LV_loss');
    mkdirSync(official);
    for (const f of readdirSync(lvDir).filter((f) => f !== 'lv_loss.csv')) copyFileSync(join(lvDir, f), join(official, f));
    const datasetDir = join(repo, 'datasets', 'Covid19');
    mkdirSync(datasetDir, { recursive: true });
    expect(findContrastiveLabelsDir({ layout: 'lvit', dir: datasetDir })).toBe(official);
    expect(findContrastiveLabelsDir({ layout: 'staged', dir: '/data/qata' })).toBe('/data/qata/lv_loss');
    const fromXlsx = await loadContrastiveLabels(official, 32);
    const fromCsv = await loadContrastiveLabels(lvDir, 32);
    expect(fromXlsx).toEqual(fromCsv);
    expect(() => findContrastiveLabelsDir({ layout: 'lvit', dir: join(tempDir('lv-none'), 'Covid19') })).toThrow(
      /no LViT contrastive labels for the LV loss: none of .*Covid19\/LV_loss\/LV_loss\.xlsx, .*LV_loss\.xlsx exists/,
    );
  });

  test('names the file and the problem on bad input', async () => {
    const empty = tempDir('lv-none');
    await expect(loadContrastiveLabels(empty, 64)).rejects.toThrow(/lv_loss\.csv: missing, and so is .*LV_loss\.xlsx/);
    const missing = tempDir('lv-missing');
    writeFileSync(join(missing, 'lv_loss.csv'), 'image,text\nfig1.png,some text\n');
    await expect(loadContrastiveLabels(missing, 64)).rejects.toThrow(/fig1\.png: contrastive label listed in .* is missing/);
    const blank = tempDir('lv-blank');
    copyFileSync(join(lvDir, 'fig1.png'), join(blank, 'fig1.png'));
    writeFileSync(join(blank, 'lv_loss.csv'), 'image,text\nfig1.png,\n');
    await expect(loadContrastiveLabels(blank, 64)).rejects.toThrow(/lv_loss\.csv:2: empty image or text/);
  });
});
