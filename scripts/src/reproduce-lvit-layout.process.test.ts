/**
 * `reproduce` on the official LViT folder layout, through the built CLI as a user runs it: a tiny
 * generated download (MoNuSeg with LViT's own Excel workbooks, QaTa "Covid19" with workbooks from
 * the suite's xlsx writer) is detected without --layout and trains a smoke sub-matrix; a mask that
 * is not two-level is warned about once, and is an error naming the file under --strict-masks.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { RunResult } from '@lvit-bench/core';
import { resolveDataRoot } from '@lvit-bench/datasets';
// Test-only fixture writers of the datasets package (not part of its public API).
import { makeLViTMonuseg, makeLViTQata, patternMask, writeRawPng } from '../../packages/datasets/src/data/test-fixtures.js';
import { readXlsxFirstSheet } from '../../packages/datasets/src/data/xlsx.js';
import { runDirOf } from './lib/experiment.js';

const cli = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'reproduce.js');
const work = mkdtempSync(join(tmpdir(), 'lvit-layout-'));
const dataRoot = join(work, 'LViT', 'datasets');

function reproduceCli(extra: string[]): { status: number | null; output: string } {
  const argv = ['--profile', 'smoke', '--data-root', dataRoot, '--cache-dir', join(work, 'cache'), '--runs-dir', join(work, 'runs'), '--site-dir', join(work, 'site')];
  const env = { ...process.env };
  for (const k of ['GLIBC_TUNABLES', 'LVIT_BENCH_GLIBC_REEXEC', 'LVIT_BENCH_PARENT_PID', 'LVIT_DATA_ROOT', 'LVIT_PROFILE']) delete env[k];
  const run = spawnSync(process.execPath, [cli, ...argv, ...extra], { encoding: 'utf8', env, timeout: 240_000 });
  return { status: run.status, output: `${run.stdout}${run.stderr}` };
}

describe.skipIf(!existsSync(cli))('reproduce on an official LViT-layout download', async () => {
  const rawDir = join(resolveDataRoot(), 'monuseg', 'raw');
  const names = Object.fromEntries(
    (['train', 'val', 'test'] as const).map((s) => {
      const title = { train: 'Train', val: 'Val', test: 'Test' }[s];
      return [s, readXlsxFirstSheet(join(rawDir, `${title}_text.xlsx`)).slice(1).map((r) => r.cells[0])];
    }),
  ) as Record<'train' | 'val' | 'test', string[]>;
  const monusegDir = await makeLViTMonuseg(dataRoot, rawDir, names);
  const qataDir = await makeLViTQata(dataRoot);
  // QaTa's only val mask (kept by every subset) with an anti-aliased look: three grey levels.
  const oddMask = join(qataDir, 'Val_Folder', 'labelcol', 'mask_covid_3.png');
  await writeRawPng(oddMask, patternMask(8, 8, 3).map((v, i) => (v ? (i % 2 ? 255 : 128) : 0)), 8, 8, 1);

  it('detects the layout, trains a smoke sub-matrix on both datasets and builds the report', () => {
    const { status, output } = reproduceCli(['--models', 'unet', '--fractions', '100']);
    expect(output).not.toMatch(/FAILED/);
    expect(status).toBe(0);
    expect(output).toMatch(new RegExp(`monuseg: official LViT layout at ${monusegDir}`));
    expect(output).toMatch(new RegExp(`qata: official LViT layout at ${qataDir}`));
    const warnings = output.split('\n').filter((l) => /warning: .*not two-level/.test(l));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(new RegExp(`qata: warning: val: 1 of 1 masks are not two-level, e\\.g\\. ${oddMask} \\(3 grey levels`));
    for (const dataset of ['monuseg', 'qata'] as const) {
      const dir = runDirOf(join(work, 'runs'), 'smoke', { model: 'unet', dataset, labelFraction: 100, seed: 666 });
      const result = JSON.parse(readFileSync(join(dir, 'result.json'), 'utf8')) as RunResult;
      expect(result.test.n).toBe(dataset === 'monuseg' ? 6 : 2);
      expect(result.test.dice).toBeGreaterThanOrEqual(0);
    }
    expect(existsSync(join(work, 'site', 'index.html'))).toBe(true);
  }, 300_000);

  it('--strict-masks makes that mask an error naming the file, before any training', () => {
    const { status, output } = reproduceCli(['--models', 'unet', '--datasets', 'qata', '--fractions', '50', '--strict-masks', '--no-report']);
    expect(status).not.toBe(0);
    expect(output).toMatch(new RegExp(`${oddMask} \\(3 grey levels, .*\\): mask is not two-level`));
    expect(output).not.toMatch(/training unet/);
  }, 120_000);

  it('--layout staged on this root names what it looked for', () => {
    const { status, output } = reproduceCli(['--models', 'unet', '--datasets', 'monuseg', '--layout', 'staged', '--no-report']);
    expect(status).toBe(1);
    expect(output).toMatch(/no staged monuseg dataset: none of .*datasets\/monuseg\/text\.csv, .*datasets\/text\.csv exists/);
  }, 120_000);
});
