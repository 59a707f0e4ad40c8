import * as tf from '@tensorflow/tfjs';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TransUNet } from './transunet.js';
import { deviation, loadTorchStateDict, nchwToNhwc, pythonModulesMissing, readTensorExport, REFERENCE_PYTHON, skipOutsideCi } from '@lvit-bench/core';
import { TINY } from './transunet.fixtures.test-util.js';

/**
 * Forward parity with the OFFICIAL TransUNet code: tools/transunet_parity.py builds the official model
 * (shared/tools/torch-reference/transunet/) at the TINY config (every block: ResNetV2 with StdConv/GN and
 * the padded 1/4 skip, hybrid embedding, pre-norm blocks, DecoderCup with align-corners upsampling; head
 * channels 512 as fixed upstream), perturbs every weight and BatchNorm buffer from a seed, and exports
 * weights, input and per-block eval-mode outputs; the suite loads the same weights and compares block by
 * block. Tolerance: max |ts - torch| <= 1e-4 · max |torch| per block: both are float32 with different
 * summation orders (conv/matmul accumulation, GN/LN/softmax reductions), so agreement is at float32 noise
 * (measured ~1e-6 relative), and any wrong layout, eps, padding or interpolation gives errors of order 1e-2 or more.
 * Needs Debian's python3-torch (and python3-scipy) at /usr/bin/python3: fails in CI without them, skips elsewhere.
 */
const here = dirname(fileURLToPath(import.meta.url));
const SCRIPT = join(here, '..', 'tools', 'transunet_parity.py');
const skip = skipOutsideCi('transunet-parity.test.ts', pythonModulesMissing(['torch', 'numpy', 'scipy'], 'python3-torch python3-scipy libopenblas0-pthread'));
const TOL = 1e-4;

describe.skipIf(skip)('TransUNet forward parity with the official PyTorch code', () => {
  let dir = '';
  beforeAll(async () => {
    await tf.setBackend('cpu');
    dir = mkdtempSync(join(tmpdir(), 'transunet-parity-'));
    execFileSync(REFERENCE_PYTHON, [SCRIPT, dir, '--preset', 'tiny', '--res', '32', '--batch', '2'], { stdio: 'pipe' });
  }, 180_000); // torch's import and the official model's build take tens of seconds on a loaded 2-core machine
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('matches block by block in eval mode', () => {
    const { meta, names, get, need } = readTensorExport(dir);
    const model = new TransUNet({ ...TINY, headChannels: 512, seed: 0 });
    expect(model.parameterCount()).toBe(meta.params);
    loadTorchStateDict(model, get);
    const x = nchwToNhwc(need('input'));
    const rows: string[] = [];
    const seen: string[] = [];
    model.logits(x, { training: false }, (name, t) => {
      const ref = get(`out:${name}`);
      if (!ref) return;
      seen.push(name);
      const want = tf.tidy(() => {
        const r = tf.tensor(ref.data, ref.shape);
        return r.rank === 4 ? tf.transpose(r, [0, 2, 3, 1]) : r;
      });
      expect(t.shape, name).toEqual(want.shape);
      const { maxAbs, maxRef } = deviation(name, t.dataSync(), { data: want.dataSync() as Float32Array, shape: want.shape });
      want.dispose();
      rows.push(`${name.padEnd(22)} max|d| ${maxAbs.toExponential(2)}  rel ${(maxAbs / maxRef).toExponential(2)}`);
      expect(maxAbs, name).toBeLessThanOrEqual(TOL * maxRef);
    });
    console.log(`TransUNet parity (tiny, 32x32, batch 2, torch ${meta.torch}):\n${rows.join('\n')}`);
    expect(seen.length).toBe(names.filter((k) => k.startsWith('out:')).length);
    model.dispose();
  });
});
