import * as tf from '@tensorflow/tfjs';
import type { Module } from '../nn/module.js';
import { torchToSuiteLayout } from '../nn/torch-state-dict.js';
import { weightedDiceBCE } from '../train/losses.js';
import { Adam } from '../train/optim.js';
import { deviation, Deviation, TensorExport } from './torch-reference.js';

/**
 * Test support: one training step of a suite model against an export of tools/official_lvit_parity.py
 * (train:<block>, train_state:<buffer>, grad:/grad64:<param>, adam:<param>). Tolerances are stated where
 * they are used (lvit-parity.test.ts explains each; unet-parity.test.ts reuses them).
 */

/** Gradients: max |ours - exact| <= max(GRAD_NOISE_FACTOR · max |torch float32 - exact|, GRAD_FLOOR · max |exact|). */
export const GRAD_NOISE_FACTOR = 4;
export const GRAD_FLOOR = 1e-5;
/** A conv bias that feeds a BatchNorm has a true gradient of 0: max |ours| <= this · max |its conv weight's gradient|. */
export const ZERO_GRAD_TOL = 1e-5;
/** The export's torch.optim.Adam learning rate, and the bound on |Δ weight| against torch's step, in lr. */
export const PARITY_ADAM_LR = 1e-3;
export const ADAM_TOL = 0.1;

export interface StepParity {
  /** train:<block> deviations (rel = max|d| / max|torch|). */
  forward: Deviation[];
  /** BatchNorm running statistics after the train-mode forward. */
  stats: Deviation[];
  /** Gradients vs float64 torch; rel = max|d| / allowed, so <= 1 passes. */
  grads: Deviation[];
  /** BatchNorm-fed conv biases: rel = max |ours| / max |conv weight gradient|. */
  zeroGrads: Deviation[];
  /** Parameters after one Adam step; rel = max|d| / lr over the weights whose gradient sign is defined. */
  adam: Deviation[];
}

/** A conv bias followed by a BatchNorm (ConvBatchNorm, CTBN, Reconstruct): `x.conv.bias` next to `x.norm.weight`. */
export function feedsBatchNorm(model: Module, name: string): boolean {
  return name.endsWith('conv.bias') && model.namedState().some(([n]) => n === name.replace(/conv\.bias$/, 'norm.weight'));
}

function maxAbsOf(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}

/**
 * Runs `trainForward` (train mode; returns the probabilities and the blocks to compare, named as in the
 * export) under the official loss against `target`, then one suite Adam step, and measures every stage.
 * Mutates the model (running statistics, parameters).
 */
export function measureTrainStep(
  model: Module,
  ref: TensorExport,
  target: tf.Tensor4D,
  trainForward: () => { out: tf.Tensor4D; blocks: Record<string, tf.Tensor | null> },
): StepParity {
  const rows: StepParity = { forward: [], stats: [], grads: [], zeroGrads: [], adam: [] };
  const params = model.namedParameters();
  const nameOf = new Map(params.map(([name, v]) => [v.name, name]));
  const { grads, value } = tf.variableGrads(() => {
    const { out, blocks } = trainForward();
    for (const [name, t] of Object.entries(blocks)) {
      const want = ref.get(`train:${name}`);
      if (!t || !want) throw new Error(`torch-step-parity.ts: block '${name}' is missing on ${t ? 'the torch' : 'the suite'} side`);
      if (t.shape.join(',') !== want.shape.join(',')) throw new Error(`torch-step-parity.ts: '${name}' is [${t.shape}] here, [${want.shape}] in torch`);
      rows.forward.push(deviation(`train:${name}`, t.dataSync(), want));
    }
    rows.forward.push(deviation('train:out', out.dataSync(), ref.need('train:out')));
    return weightedDiceBCE(out, target);
  }, params.map(([, v]) => v));
  value.dispose();
  const byName: Record<string, tf.Tensor> = {};
  for (const [varName, g] of Object.entries(grads)) byName[nameOf.get(varName)!] = g;

  for (const [name, v] of model.namedState()) {
    if (/running_(mean|var)$/.test(name)) rows.stats.push(deviation(name, v.dataSync(), ref.need(`train_state:${name}`)));
  }

  // 1 where |exact gradient| is within both float32 codes' error: the sign, and so Adam's step, is not defined.
  const signUndetermined = new Map<string, Uint8Array>();
  for (const [name, g] of Object.entries(byName)) {
    const [exact, torch32] = tf.tidy(() => [torchToSuiteLayout(name, ref.need(`grad64:${name}`)), torchToSuiteLayout(name, ref.need(`grad:${name}`))]);
    const exactRef = { shape: exact.shape, data: exact.dataSync() as Float32Array };
    const ours = deviation(`grad:${name}`, g.dataSync(), exactRef);
    const torchOwn = deviation(name, torch32.dataSync(), exactRef);
    tf.dispose([exact, torch32]);
    signUndetermined.set(name, Uint8Array.from(exactRef.data, (x) => (Math.abs(x) <= ours.maxAbs + torchOwn.maxAbs ? 1 : 0)));
    if (feedsBatchNorm(model, name)) {
      const weightGrad = maxAbsOf(ref.need(`grad64:${name.replace(/bias$/, 'weight')}`).data);
      const mine = maxAbsOf(g.dataSync());
      rows.zeroGrads.push({ name: ours.name, maxAbs: mine, maxRef: weightGrad, rel: mine / weightGrad });
    } else {
      rows.grads.push({ ...ours, rel: ours.maxAbs / Math.max(GRAD_NOISE_FACTOR * torchOwn.maxAbs, GRAD_FLOOR * ours.maxRef) });
    }
  }

  new Adam(params, { lr: PARITY_ADAM_LR }).step(byName);
  tf.dispose(Object.values(grads));
  for (const [name, v] of params) {
    if (feedsBatchNorm(model, name)) continue; // torch's Adam moves these by ±lr on the sign of rounding noise
    const after = tf.tidy(() => torchToSuiteLayout(name, ref.need(`adam:${name}`)));
    const a = v.dataSync();
    const want = after.dataSync();
    after.dispose();
    const undetermined = signUndetermined.get(name)!;
    let maxAbs = 0;
    for (let i = 0; i < a.length; i++) if (!undetermined[i]) maxAbs = Math.max(maxAbs, Math.abs(a[i] - want[i]));
    rows.adam.push({ name: `adam:${name}`, maxAbs, maxRef: PARITY_ADAM_LR, rel: maxAbs / PARITY_ADAM_LR });
  }
  return rows;
}
