import * as tf from '@tensorflow/tfjs';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Mlp } from '../blocks/mlp.js';
import { skipOutsideCi } from '../io/prerequisite.js';
import { deviation, readTensorExport, REFERENCE_PYTHON, TensorExport, torchMissing } from '../io/torch-reference.js';
import { Rng } from '../rng.js';
import { BatchNorm, Conv1d, Conv2d, ConvTranspose2d, dropout, Linear } from './layers.js';

/**
 * The layers' PyTorch defaults against PyTorch itself (tools/torch_layer_defaults.py):
 * - BatchNorm: three train-mode batches with shifting statistics, the outputs (batch statistics, biased
 *   variance) and the running statistics after each (momentum 0.1, unbiased variance), then eval mode
 *   with the trained statistics; 1e-6 of max |torch| (float32 rounding of a few sums).
 * - Initialisation: the suite's fresh weights and biases against torch's fresh ones of the same layers:
 *   within torch's kaiming_uniform(a=sqrt(5)) bound 1/sqrt(fan_in) (fan_in from torch's own rule, which
 *   for ConvTranspose2d is out_channels·k·k), reaching 97 % of it (weights and the 512 biases), and the same distribution by a
 *   two-sample Kolmogorov-Smirnov test at α = 1e-3 (D < 1.95·sqrt((n+m)/(nm)); the samples come from
 *   different generators, so only the distribution can agree). Same for the official ViT MLP's xavier
 *   init (nets/Vit.py); its N(0, 1e-6) biases by their spread.
 * - Dropout: kept values are exactly torch's 1/(1-p) in float32, the dropped fraction is p within 5 σ of
 *   the binomial, and eval mode is the identity.
 * Fails in CI without torch, skips elsewhere.
 */
const FILE = 'layer-defaults.test.ts';
const here = dirname(fileURLToPath(import.meta.url));
const SCRIPT = join(here, '..', '..', 'tools', 'torch_layer_defaults.py');
const skip = skipOutsideCi(FILE, torchMissing());

/** Two-sample Kolmogorov-Smirnov statistic. */
function ksStatistic(a: Float32Array, b: Float32Array): number {
  const x = Float64Array.from(a).sort();
  const y = Float64Array.from(b).sort();
  let i = 0;
  let j = 0;
  let d = 0;
  while (i < x.length && j < y.length) {
    const v = Math.min(x[i], y[j]);
    while (i < x.length && x[i] <= v) i++;
    while (j < y.length && y[j] <= v) j++;
    d = Math.max(d, Math.abs(i / x.length - j / y.length));
  }
  return d;
}
const ksCritical = (n: number, m: number) => 1.95 * Math.sqrt((n + m) / (n * m)); // α = 1e-3
const maxAbs = (a: ArrayLike<number>) => Array.from(a).reduce((m, v) => Math.max(m, Math.abs(v)), 0);

describe.skipIf(skip)("layers' PyTorch defaults against PyTorch", () => {
  let dir = '';
  let ref: TensorExport;
  beforeAll(async () => {
    await tf.setBackend('cpu');
    dir = mkdtempSync(join(tmpdir(), 'layer-defaults-'));
    execFileSync(REFERENCE_PYTHON, [SCRIPT, dir], { stdio: 'pipe' });
    ref = readTensorExport(dir);
  }, 120_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const tensor = (name: string) => tf.tensor(ref.need(name).data, ref.need(name).shape);

  it('BatchNorm: batch statistics in training, running statistics with momentum 0.1 and unbiased variance, eval with them', () => {
    const bn = new BatchNorm(4);
    for (let i = 0; i < 3; i++) {
      const y = tf.tidy(() => bn.forward(tensor(`bn:x${i}`) as tf.Tensor4D, { training: true }).dataSync());
      expect(deviation(`y${i}`, y, ref.need(`bn:y${i}`)).rel, `train output ${i}`).toBeLessThan(1e-6);
      expect(deviation(`mean${i}`, bn.runningMean.dataSync(), ref.need(`bn:running_mean${i}`)).rel, `running_mean ${i}`).toBeLessThan(1e-6);
      expect(deviation(`var${i}`, bn.runningVar.dataSync(), ref.need(`bn:running_var${i}`)).rel, `running_var ${i}`).toBeLessThan(1e-6);
    }
    const y = tf.tidy(() => bn.forward(tensor('bn:x_eval') as tf.Tensor4D, { training: false }).dataSync());
    expect(deviation('eval', y, ref.need('bn:y_eval')).rel).toBeLessThan(1e-6);
    bn.dispose();
  });

  it("initialises conv, transposed conv, Conv1d and Linear as torch's kaiming_uniform(a=sqrt(5)) and bias rule", () => {
    const bounds = ref.meta.bounds as Record<string, number>;
    const rng = new Rng(7);
    const layers: Record<string, { weight: tf.Variable; bias: tf.Variable | null; dispose(): void }> = {
      conv2d: new Conv2d(4, 512, 3, rng),
      linear: new Linear(64, 512, rng),
      convT: new ConvTranspose2d(32, 512, 2, 2, rng),
      conv1d: new Conv1d(24, 512, 3, rng),
    };
    for (const [name, layer] of Object.entries(layers)) {
      for (const part of ['weight', 'bias'] as const) {
        const torchSample = ref.need(`init:${name}.${part}`);
        const ours = layer[part]!.dataSync() as Float32Array;
        expect(layer[part]!.shape, `${name}.${part} layout`).toEqual(torchSample.shape);
        expect(maxAbs(ours), `${name}.${part} within torch's bound`).toBeLessThanOrEqual(bounds[name]);
        expect(maxAbs(torchSample.data), `torch's ${name}.${part} within its bound`).toBeLessThanOrEqual(bounds[name]);
        // ≥ 512 draws of U(±b) all below 0.97 b in size: probability 0.97^512 ≈ 2e-7
        expect(maxAbs(ours), `${name}.${part} reaches the bound`).toBeGreaterThan(0.97 * bounds[name]);
        expect(ksStatistic(ours, torchSample.data), `${name}.${part} distribution`).toBeLessThan(ksCritical(ours.length, torchSample.data.length));
      }
      layer.dispose();
    }
  });

  it("initialises the ViT MLP as the official code's _init_weights (xavier_uniform, N(0, 1e-6) biases)", () => {
    const mlp = new Mlp(64, 256, new Rng(7));
    const w = mlp.fc1.weight.dataSync() as Float32Array;
    const torchW = ref.need('init:mlp.fc1.weight');
    expect(mlp.fc1.weight.shape).toEqual(torchW.shape);
    expect(ksStatistic(w, torchW.data)).toBeLessThan(ksCritical(w.length, torchW.data.length));
    const b = mlp.fc1.bias!.dataSync() as Float32Array;
    const torchB = ref.need('init:mlp.fc1.bias').data;
    expect(maxAbs(b)).toBeLessThan(6e-6); // 256 draws of N(0, 1e-6) stay within ~4 σ
    expect(maxAbs(b)).toBeGreaterThan(1e-6);
    expect(maxAbs(torchB)).toBeLessThan(6e-6);
    mlp.dispose();
  });

  it("dropout keeps values scaled by torch's 1/(1-p), drops a fraction p, and is the identity in eval", () => {
    const p = 0.1;
    const torchTrain = ref.need('dropout:train').data;
    const torchKept = torchTrain.find((v) => v !== 0)!;
    const ones = tf.ones([200_000]);
    const train = tf.tidy(() => dropout(ones, p, { training: true, rng: new Rng(3) }).dataSync());
    const kept = Array.from(new Set(train)).filter((v) => v !== 0);
    expect(kept).toEqual([torchKept]); // bit-identical scale
    const n = train.length;
    const sigma = Math.sqrt(n * p * (1 - p));
    const dropped = train.filter((v) => v === 0).length;
    expect(Math.abs(dropped - n * p)).toBeLessThan(5 * sigma);
    expect(Math.abs(torchTrain.filter((v) => v === 0).length - n * p)).toBeLessThan(5 * sigma);
    const evalOut = tf.tidy(() => dropout(ones, p, { training: false, rng: new Rng(3) }).dataSync());
    expect(deviation('eval', evalOut, ref.need('dropout:eval')).maxAbs).toBe(0);
    ones.dispose();
  });
});
