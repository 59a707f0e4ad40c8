import * as tf from '@tensorflow/tfjs';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ADAM_TOL,
  deviation,
  Deviation,
  ForwardContext,
  formatDeviations,
  loadTorchStateDict,
  measureTrainStep,
  nchwToNhwc,
  patchCpuForTraining,
  readTensorExport,
  REFERENCE_PYTHON,
  skipOutsideCi,
  StepParity,
  TensorExport,
  torchMissing,
  ZERO_GRAD_TOL,
} from '@lvit-bench/core';
import { UNet } from './unet.js';

/**
 * Whole-model parity of the U-Net with the OFFICIAL nets/UNet.py (LViT repository) at base 16 (the
 * script's reduced_unet scales the constructor's hard-coded 64; blocks and forward run unchanged), 32²,
 * batch 2: core's tools/official_lvit_parity.py --model unet perturbs every weight and BatchNorm buffer from a seed and exports block outputs in eval and train mode, running
 * statistics, gradients of the official loss (float32 and float64) and the parameters after one Adam
 * step. Tolerances as in core's lvit-parity.test.ts (forward 1e-4 of max |torch| per block; the
 * train-step bounds in core io/torch-step-parity.ts). Fails in CI without torch, skips elsewhere.
 */
const FILE = 'unet-parity.test.ts';
const here = dirname(fileURLToPath(import.meta.url));
const SCRIPT = join(here, '..', '..', 'core', 'tools', 'official_lvit_parity.py');
const FORWARD_TOL = 1e-4;
const skip = skipOutsideCi(FILE, torchMissing());

/** The official forward, block by block (the same calls as UNet.forward), with every block output. */
function unetBlocks(m: UNet, x: tf.Tensor4D, ctx: ForwardContext) {
  const inc = m.inc.forward(x, ctx); // [B,S,S,b]
  const down1 = m.down1.forward(inc, ctx);
  const down2 = m.down2.forward(down1, ctx);
  const down3 = m.down3.forward(down2, ctx);
  const down4 = m.down4.forward(down3, ctx); // [B,S/16,S/16,8b]
  const up4 = m.up4.forward(down4, down3, ctx);
  const up3 = m.up3.forward(up4, down2, ctx);
  const up2 = m.up2.forward(up3, down1, ctx);
  const up1 = m.up1.forward(up2, inc, ctx); // [B,S,S,b]
  const out = tf.sigmoid(m.outc.forward(up1)); // [B,S,S,1]
  return { out, blocks: { inc, down1, down2, down3, down4, up4, up3, up2, up1 } };
}

describe.skipIf(skip)('U-Net parity with the official PyTorch code (base 16, 32², batch 2)', () => {
  let dir = '';
  let ref: TensorExport;
  let model: UNet;
  let image: tf.Tensor4D;
  let target: tf.Tensor4D;

  beforeAll(async () => {
    await tf.setBackend('cpu');
    patchCpuForTraining(); // the suite's cpu training kernels (each tested against stock cpu)
    dir = mkdtempSync(join(tmpdir(), 'unet-parity-'));
    execFileSync(REFERENCE_PYTHON, [SCRIPT, dir, '--model', 'unet', '--res', '32', '--batch', '2'], { stdio: 'pipe' });
    ref = readTensorExport(dir);
    model = new UNet({ baseChannels: (ref.meta.config as { baseChannels: number }).baseChannels, seed: 0 });
    image = nchwToNhwc(ref.need('input'));
    target = nchwToNhwc(ref.need('target'));
  }, 180_000); // torch's import and the export take ~10-20 s on a loaded 2-core machine
  afterAll(() => {
    model?.dispose();
    tf.dispose([image, target]);
    rmSync(dir, { recursive: true, force: true });
  });

  it('has the official parameter count and loads its state dict by name', () => {
    expect(model.parameterCount()).toBe(ref.meta.params);
    expect(loadTorchStateDict(model, ref.get).length).toBe(model.namedState().length);
  });

  it('matches block by block in eval mode, and forward() is that chain', () => {
    loadTorchStateDict(model, ref.get);
    const ctx = { training: false };
    const rows: Deviation[] = [];
    tf.tidy(() => {
      const { out, blocks } = unetBlocks(model, image, ctx);
      expect(tf.max(tf.abs(tf.sub(out, model.forward(image, null, ctx)))).dataSync()[0]).toBe(0);
      for (const [name, t] of Object.entries(blocks)) rows.push(deviation(`eval:${name}`, t.dataSync(), ref.need(`eval:${name}`)));
      rows.push(deviation('eval:out', out.dataSync(), ref.need('eval:out')));
    });
    console.log(formatDeviations(`U-Net eval parity (torch ${ref.meta.torch}):`, rows));
    expect(rows.length).toBe(10);
    for (const r of rows) expect(r.rel, r.name).toBeLessThanOrEqual(FORWARD_TOL);
  });

  describe('train mode: one forward, the official loss, one Adam step', () => {
    let rows: StepParity;
    beforeAll(() => {
      loadTorchStateDict(model, ref.get);
      rows = measureTrainStep(model, ref, target, () => unetBlocks(model, image, { training: true }));
    }, 120_000);

    it('matches block by block (batch statistics) and updates the 17 BatchNorms as torch does', () => {
      console.log(formatDeviations('U-Net train-mode parity:', rows.forward));
      expect(rows.forward.length).toBe(10);
      for (const r of rows.forward) expect(r.rel, r.name).toBeLessThanOrEqual(FORWARD_TOL);
      expect(rows.stats.length).toBe(2 * 17);
      for (const r of rows.stats) expect(r.rel, r.name).toBeLessThanOrEqual(FORWARD_TOL);
    });

    it("gives the official loss's gradient for every parameter, and torch's parameters after one Adam step", () => {
      console.log(formatDeviations('U-Net gradients vs float64 torch (worst 6; rel = max|d| / allowed):', [...rows.grads].sort((a, b) => b.rel - a.rel).slice(0, 6)));
      expect(rows.grads.length + rows.zeroGrads.length).toBe(model.namedParameters().length);
      for (const r of rows.grads) expect(r.rel, r.name).toBeLessThanOrEqual(1);
      expect(rows.zeroGrads.length).toBe(17);
      for (const r of rows.zeroGrads) expect(r.rel, r.name).toBeLessThanOrEqual(ZERO_GRAD_TOL);
      expect(rows.adam.length).toBe(model.namedParameters().length - 17);
      for (const r of rows.adam) expect(r.rel, r.name).toBeLessThanOrEqual(ADAM_TOL);
    });
  });
});
