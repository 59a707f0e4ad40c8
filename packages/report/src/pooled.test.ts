import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadRuns, parseRunResult } from './load.js';
import { renderComparisonTable } from './html.js';
import { buildComparisonTables, tablesToCsv, tablesToMarkdown, type ComparisonRow } from './tables.js';
import { STANDARD_RUNS, writeFixtureRuns } from './fixtures.test-util.js';

/**
 * The pooled convention next to the paper's per-image one: U-Net's two seeds get a pooled score
 * (far above their per-image mean, as pooling does), the other rows are "old" results without it.
 */
const POOLED = { 1: { dice: 0.91, iou: 0.84 }, 2: { dice: 0.93, iou: 0.86 } } as const;
let tmp: string;
let rows: ComparisonRow[];
let files: string[];

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'lvit-pooled-'));
  files = await writeFixtureRuns(tmp, STANDARD_RUNS);
  STANDARD_RUNS.forEach((r, i) => {
    if (r.model !== 'unet') return;
    const result = JSON.parse(readFileSync(files[i], 'utf8'));
    result.test.pooled = POOLED[r.seed as 1 | 2];
    writeFileSync(files[i], JSON.stringify(result));
  });
  const loaded = loadRuns(tmp);
  expect(loaded.skipped).toEqual([]);
  rows = buildComparisonTables(loaded.runs)[0].rows;
});

afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const rowOf = (model: string) => rows.find((r) => r.model === model)!;

describe('pooled Dice/IoU in the comparison table', () => {
  it('averages the seeds\' pooled scores, in %', () => {
    const unet = rowOf('unet');
    expect(unet.pooled!.dice.mean).toBeCloseTo(92, 9);
    expect(unet.pooled!.iou.mean).toBeCloseTo(85, 9);
  });

  it('compares only the per-image mean with the published number (MoNuSeg U-Net 76.45)', () => {
    const unet = rowOf('unet');
    const perImageMean = 100 * ((0.7 + 0.74 + 0.66) / 3 + (0.72 + 0.69 + 0.75) / 3) / 2;
    expect(unet.dice.mean).toBeCloseTo(perImageMean, 9);
    expect(unet.diffDice).toBeCloseTo(perImageMean - 76.45, 9);
  });

  it('old results without the field load and show a dash, not a number', () => {
    const lvit = rowOf('lvit-t');
    expect(lvit.pooled).toBeNull();
    const table = buildComparisonTables(loadRuns(tmp).runs)[0];
    const html = renderComparisonTable(table);
    expect(html).toMatch(/<td class="num pooled">92\.00 ± 1\.41 \/ 85\.00 ± 1\.41<\/td>/);
    expect(html).toMatch(/<td class="num pooled" title="[^"]*">—<\/td>/);
    expect(html).toContain('Dice / IoU pooled (ours)');
  });

  it('CSV and Markdown carry the pooled column (empty or dash when missing)', () => {
    const table = buildComparisonTables(loadRuns(tmp).runs);
    const csv = tablesToCsv(table).trim().split('\n');
    const header = csv[0].split(',');
    const col = header.indexOf('pooled_dice_mean');
    const unetLine = csv.find((l) => l.includes(',unet,'))!.split(',');
    const lvitLine = csv.find((l) => l.includes(',lvit-t,'))!.split(',');
    expect(Number(unetLine[col])).toBeCloseTo(92, 9);
    expect(lvitLine[col]).toBe('');
    expect(tablesToMarkdown(table)).toContain('92.00 ± 1.41 / 85.00 ± 1.41');
  });

  it('rejects a pooled score outside [0, 1], naming the file', () => {
    const result = JSON.parse(readFileSync(files[0], 'utf8'));
    result.test.pooled = { dice: 91, iou: 0.84 };
    expect(() => parseRunResult(JSON.stringify(result), 'x/result.json')).toThrow(/x\/result\.json: 'test\.pooled\.dice'/);
  });
});
