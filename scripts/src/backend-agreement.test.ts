import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { RunResult } from '@lvit-bench/core';
import { reproduce } from './lib/reproduce.js';
import { runDirOf } from './lib/experiment.js';

/**
 * The same smoke run (U-Net, MoNuSeg, seed 666) on the onnxruntime and the wasm backend. The data,
 * initial weights, batch order and augmentation are identical; only float32 summation order
 * differs (MLAS vs XNNPACK blocking, reductions), which Adam amplifies a little step by step. So
 * losses agree to a small relative tolerance rather than bit for bit (seen: ~2e-5), and test Dice
 * to within a fraction of a point (at smoke size both are often 0, so the losses are the real check).
 */
describe('onnxruntime and wasm backends agree on the same run', () => {
  it('train/val losses within 1e-3 relative and test Dice within 0.5 points after 6 steps', async () => {
    const work = mkdtempSync(join(tmpdir(), 'lvit-agree-'));
    const spec = { model: 'unet', dataset: 'monuseg' as const, labelFraction: 100, seed: 666 };
    const results: RunResult[] = [];
    for (const backend of ['onnxruntime', 'wasm']) {
      const runsDir = join(work, backend);
      const argv = ['--profile', 'smoke', '--backend', backend, '--runs-dir', runsDir, '--no-report', '--models', 'unet', '--datasets', 'monuseg', '--fractions', '100'];
      expect(await reproduce(argv, () => {})).toEqual({ ran: 1, skipped: 0, failed: 0 });
      results.push(JSON.parse(readFileSync(join(runDirOf(runsDir, 'smoke', spec), 'result.json'), 'utf8')));
    }
    const [ort, wasm] = results;
    expect(ort.provenance.backend).toBe('onnxruntime');
    expect(wasm.provenance.backend).toBe('wasm');
    expect(ort.curves).toHaveLength(wasm.curves.length);
    ort.curves.forEach((epoch, i) => {
      expect(Math.abs(epoch.trainLoss - wasm.curves[i].trainLoss) / wasm.curves[i].trainLoss).toBeLessThan(1e-3);
      expect(Math.abs(epoch.valLoss! - wasm.curves[i].valLoss!) / wasm.curves[i].valLoss!).toBeLessThan(1e-3);
    });
    expect(Math.abs(ort.test.dice - wasm.test.dice)).toBeLessThan(0.005);
  }, 300_000);
});
