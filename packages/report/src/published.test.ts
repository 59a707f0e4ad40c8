import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { resolveDataRoot } from '@lvit-bench/datasets';
import { describe, expect, it } from 'vitest';
import { DATASET_LABELS, PUBLISHED, type PublishedEntry } from './published.js';

/**
 * Every number published.ts transcribes must be the RESULTS.md cell it claims: the section of its
 * source, the row of its dataset and model, the column of its label ratio. And every result cell of
 * RESULTS.md must be transcribed. The spec is found beside shared/data, as the datasets package finds
 * the data (resolveDataRoot: LVIT_DATA_ROOT, else the nearest shared/data); without it the test fails.
 */

interface Cell {
  section: string;
  /** The row's cells by column header. */
  row: Record<string, string>;
  column: string;
  value: string;
}

/** Every body cell of every table, with the `## ` heading above it. */
function parseTables(markdown: string): Cell[] {
  const cells: Cell[] = [];
  let section = '';
  let header: string[] | null = null;
  const split = (line: string) => line.trim().replace(/^\||\|$/g, '').split('|').map((c) => c.trim());
  for (const line of markdown.split('\n')) {
    if (line.startsWith('## ')) section = line.slice(3).trim();
    if (!line.startsWith('|')) {
      header = null;
      continue;
    }
    const values = split(line);
    if (!header) header = values;
    else if (!values.every((v) => /^-+$/.test(v))) {
      const row = Object.fromEntries(header.map((h, i) => [h, values[i] ?? '']));
      header.forEach((column, i) => cells.push({ section, row, column, value: values[i] ?? '' }));
    }
  }
  return cells;
}

function readResultsMd(): { file: string; cells: Cell[] } {
  const file = join(dirname(resolveDataRoot()), 'spec', 'RESULTS.md');
  if (!existsSync(file)) throw new Error(`${file} is missing: the published numbers cannot be checked against their source`);
  return { file, cells: parseTables(readFileSync(file, 'utf8')) };
}

/** The RESULTS.md section each source detail of published.ts was read from. */
const SECTION_OF_SOURCE: [RegExp, RegExp][] = [
  [/README results table/, /^Verified: official LViT README/],
  [/label-ratio rows/, /^Secondary: label-ratio rows/],
  [/third-party GitHub README/, /^Secondary: baseline rows/],
];
const RESULT_SECTIONS = SECTION_OF_SOURCE.map(([, section]) => section);

/**
 * RESULTS.md's MoNuSeg "LViT-T" row is the U-Net-initialised model (the row after it says "no U-Net
 * pretraining"); published.ts names it so. Every other label is the source's own.
 */
const SOURCE_ROW_LABEL: Record<string, string> = { 'LViT-T, U-Net initialised': 'LViT-T' };

/** The cells holding entry e's Dice and IoU (each must exist exactly once). */
function cellsOf(e: PublishedEntry, cells: Cell[]): { dice: Cell[]; iou: Cell[] } {
  const section = SECTION_OF_SOURCE.find(([detail]) => detail.test(e.sourceDetail))?.[1];
  if (!section) throw new Error(`published.ts: no RESULTS.md section for source '${e.sourceDetail}'`);
  const ratio = `${e.labelPercent}%`;
  const inRow = cells.filter(
    (c) => section.test(c.section) && c.row.dataset === DATASET_LABELS[e.dataset] && c.row.model === (SOURCE_ROW_LABEL[e.modelLabel] ?? e.modelLabel),
  );
  // Long tables: a 'label ratio' column and one column per metric. Wide ones: "Dice / mIoU" per ratio.
  const long = inRow.filter((c) => c.row['label ratio'] === ratio);
  const wide = inRow.filter((c) => c.column === ratio);
  const wideSplit = (i: number) => wide.map((c) => ({ ...c, value: c.value.split('/')[i]?.trim() ?? '' }));
  return {
    dice: [...long.filter((c) => c.column === 'Dice'), ...wideSplit(0)],
    iou: [...long.filter((c) => /^(IoU|mIoU)/.test(c.column)), ...wideSplit(1)],
  };
}

describe('published.ts against RESULTS.md', () => {
  const { file, cells } = readResultsMd();

  it('parses the three result tables of RESULTS.md', () => {
    for (const section of RESULT_SECTIONS) expect(cells.some((c) => section.test(c.section)), `${file}: ${section}`).toBe(true);
  });

  it('each transcribed Dice and IoU is the number in the cell it claims, under its source label', () => {
    for (const e of PUBLISHED) {
      const where = `${e.dataset} ${e.modelLabel} ${e.labelPercent}% (${e.sourceDetail})`;
      const { dice, iou } = cellsOf(e, cells);
      expect(dice.map((c) => Number(c.value)), `${where} Dice in ${file}`).toEqual([e.dice]);
      expect(iou.map((c) => Number(c.value)), `${where} IoU in ${file}`).toEqual([e.iou]);
      expect(e.source, where).toBe(dice[0].section.startsWith('Verified') ? 'verified: official LViT README' : 'secondary source');
    }
  });

  it('every result cell of RESULTS.md is transcribed', () => {
    const key = (c: Cell) => `${c.section} / ${c.row.dataset} / ${c.row.model} / ${c.row['label ratio'] ?? ''} / ${c.column}`;
    const used = new Set(PUBLISHED.flatMap((e) => Object.values(cellsOf(e, cells)).flat()).map(key));
    const isMetric = (column: string) => column === 'Dice' || /^(IoU|mIoU)/.test(column) || /^\d+%$/.test(column);
    const resultCells = cells.filter((c) => RESULT_SECTIONS.some((s) => s.test(c.section)) && isMetric(c.column));
    expect(resultCells.length).toBeGreaterThan(0);
    expect(resultCells.filter((c) => !used.has(key(c))).map((c) => `${key(c)}: ${c.value}`)).toEqual([]);
  });
});
