/**
 * TransUNet train-step bench: the suite's step (core `trainStep`: forward, WeightedDiceBCE, backward, Adam)
 * on the onnxruntime backend, and, interleaved in the same minute, the official PyTorch model's step
 * (shared/tools/torch-reference/transunet_step.py: sigmoid + 0.5 Dice + 0.5 BCE, Adam), both for the
 * full R50-ViT-B/16 at `--res`/`--batch`; plus the suite's quick-profile config (no PyTorch counterpart:
 * the shared script builds only the full config).
 *   node scripts/dist/bench/transunet.js [--res 128] [--batch 2] [--reps 3] [--no-torch]
 */
import * as tf from '@tensorflow/tfjs';
import { Adam, initBackend, Rng, trainStep } from '@lvit-bench/core';
import { TransUNet, type TransUNetConfig } from '@lvit-bench/baselines';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { getProfile } from '../configs/profiles.js';

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : def;
}

function stats(ts: number[]) {
  const s = [...ts].sort((a, b) => a - b);
  return { median: s[Math.floor(s.length / 2)], min: s[0], max: s[s.length - 1], n: s.length };
}

function suiteStep(config: TransUNetConfig, batch: number, res: number, reps: number) {
  const model = new TransUNet({ ...config, imageSize: res });
  const opt = new Adam(model.namedParameters(), { lr: 1e-4 });
  const rng = new Rng(0);
  const images = tf.tensor4d(new Float32Array(batch * res * res * 3).map(() => rng.next()), [batch, res, res, 3]);
  const masks = tf.tensor4d(new Float32Array(batch * res * res).map(() => (rng.next() > 0.7 ? 1 : 0)), [batch, res, res, 1]);
  const once = () => {
    const t0 = performance.now();
    trainStep({ model, optimizer: opt, images, masks, text: null, rng });
    return performance.now() - t0;
  };
  once();
  once();
  const ts = Array.from({ length: reps }, once);
  const params = model.parameterCount();
  opt.dispose();
  model.dispose();
  tf.dispose([images, masks]);
  return { params, step_ms: stats(ts) };
}

function torchStep(res: number, batch: number, reps: number): { median: number; min: number; max: number } | string {
  const script = join(process.cwd(), '..', 'shared', 'tools', 'torch-reference', 'transunet_step.py');
  const alt = join(process.cwd(), '..', '..', 'shared', 'tools', 'torch-reference', 'transunet_step.py');
  const path = existsSync(script) ? script : alt;
  try {
    const out = execFileSync('/usr/bin/python3', [path, '--res', String(res), '--batch', String(batch), '--reps', String(reps)], { encoding: 'utf8' });
    return JSON.parse(out.trim().split('\n').pop()!).step_ms;
  } catch (e) {
    return `PyTorch reference not run (${String(e).split('\n')[0]})`;
  }
}

async function main(): Promise<void> {
  const res = Number(arg('res', '128'));
  const batch = Number(arg('batch', '2'));
  const reps = Number(arg('reps', '3'));
  const info = await initBackend('onnxruntime');
  console.log(`backend: ${info.name ?? JSON.stringify(info).slice(0, 120)}`);
  const quick = getProfile('quick');
  const qc = quick.modelConfigs.transunet as unknown as Omit<TransUNetConfig, 'seed'>;
  const q = suiteStep({ ...qc, seed: 1 }, quick.schedules.monuseg.batchSize, quick.data.monuseg.imageSize, reps);
  console.log(JSON.stringify({ target: 'transunet quick config', batch: quick.schedules.monuseg.batchSize, res: quick.data.monuseg.imageSize, ...q }));
  // Full model, suite then PyTorch then suite again, so both see the same minute.
  const a = suiteStep({ seed: 1 }, batch, res, reps);
  const torch = process.argv.includes('--no-torch') ? 'skipped' : torchStep(res, batch, reps);
  const b = suiteStep({ seed: 1 }, batch, res, reps);
  console.log(JSON.stringify({ target: 'transunet R50-ViT-B/16', res, batch, suite_round1: a, torch, suite_round2: b }));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
