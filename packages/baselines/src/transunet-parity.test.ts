import * as tf from '@tensorflow/tfjs';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TransUNet } from './transunet.js';
import { loadTorchStateDict } from './transunet-weights.js';
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
 * Needs Debian's python3-torch at /usr/bin/python3; skipped with a message otherwise.
 */
const here = dirname(fileURLToPath(import.meta.url));
const SCRIPT = join(here, '..', 'tools', 'transunet_parity.py');
const PY = '/usr/bin/python3';
const hasTorch = spawnSync(PY, ['-c', 'import torch, numpy, scipy'], { stdio: 'ignore' }).status === 0;
if (!hasTorch) console.warn('transunet-parity.test.ts: skipped: /usr/bin/python3 lacks torch/numpy/scipy (apt-get install python3-torch libopenblas0-pthread)');
const TOL = 1e-4;

describe.skipIf(!hasTorch)('TransUNet forward parity with the official PyTorch code', () => {
  let dir = '';
  beforeAll(async () => {
    await tf.setBackend('cpu');
    dir = mkdtempSync(join(tmpdir(), 'transunet-parity-'));
    execFileSync(PY, [SCRIPT, dir, '--preset', 'tiny', '--res', '32', '--batch', '2'], { stdio: 'pipe' });
  }, 180_000); // torch's import and the official model's build take tens of seconds on a loaded 2-core machine
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('matches block by block in eval mode', () => {
    const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
    const buf = readFileSync(join(dir, 'data.bin'));
    const all = new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4);
    const get = (name: string) => {
      const t = manifest.tensors[name];
      if (!t) return undefined;
      const n = t.shape.reduce((a: number, b: number) => a * b, 1);
      return { shape: t.shape as number[], data: all.slice(t.offset, t.offset + n) };
    };
    const model = new TransUNet({ ...TINY, headChannels: 512, seed: 0 });
    expect(model.parameterCount()).toBe(manifest.params);
    loadTorchStateDict(model, get);
    const inp = get('input')!;
    const x = tf.tidy(() => tf.transpose(tf.tensor(inp.data, inp.shape), [0, 2, 3, 1])) as tf.Tensor4D;
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
      const a = t.dataSync();
      const b = want.dataSync();
      let maxAbs = 0;
      let maxRef = 0;
      for (let i = 0; i < a.length; i++) {
        maxAbs = Math.max(maxAbs, Math.abs(a[i] - b[i]));
        maxRef = Math.max(maxRef, Math.abs(b[i]));
      }
      want.dispose();
      rows.push(`${name.padEnd(22)} max|d| ${maxAbs.toExponential(2)}  rel ${(maxAbs / maxRef).toExponential(2)}`);
      expect(maxAbs, name).toBeLessThanOrEqual(TOL * maxRef);
    });
    console.log(`TransUNet parity (tiny, 32x32, batch 2, torch ${manifest.torch}):\n${rows.join('\n')}`);
    expect(seen.length).toBe(Object.keys(manifest.tensors).filter((k) => k.startsWith('out:')).length);
    model.dispose();
  });
});
