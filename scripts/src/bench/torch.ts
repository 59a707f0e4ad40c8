/**
 * The suite's train step side by side with the official model's in PyTorch (shared/tools/torch-reference/),
 * interleaved in rounds so both see the same minute of this noisy machine: U-Net (unet_step.py) and
 * TransUNet R50-ViT-B/16 (transunet_step.py). Torch runs with GLIBC_TUNABLES and OMP_WAIT_POLICY=PASSIVE:
 * its spinning OpenMP threads otherwise collapse (to ~4 s a step) whenever another process holds a core.
 */
import { runTorchReference } from '@lvit-bench/core';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ms, summarize, type Stats } from './stats.js';

export const TORCH_ROUNDS = 3;

export interface TorchComparison {
  config: string;
  ours: Stats;
  torch: Stats;
  /** ours / torch, medians and mins. */
  ratioMedian: number;
  ratioMin: number;
  torchVersion: string;
  note: string;
}

export type TorchSideBySide = TorchComparison | { config: string; unavailable: string };

/** One timed round of the PyTorch reference: its step's median/min/max and torch version. */
export type TorchRound = (reps: number) => { step_ms: { median: number; min: number; max: number }; torch: string };

/** What a side-by-side needs of a suite step: its config text, warm-ups and one step. */
export interface SuiteStep {
  config: string;
  warmups: number;
  step: () => unknown;
}

export async function sideBySide(target: SuiteStep, torchRound: TorchRound, reps: number, log: (m: string) => void): Promise<TorchSideBySide> {
  try {
    for (let i = 0; i < target.warmups; i++) target.step();
    const ours: number[] = [];
    const torch: number[] = [];
    let version = '';
    for (let round = 0; round < TORCH_ROUNDS; round++) {
      for (let i = 0; i < reps; i++) {
        const t0 = performance.now();
        target.step();
        ours.push(performance.now() - t0);
      }
      const ref = torchRound(reps);
      torch.push(...torchSamples(ref.step_ms, reps));
      version = ref.torch;
      log(`[bench] torch round ${round + 1}/${TORCH_ROUNDS} (${target.config}): ours median ${summarize(ours.slice(-reps)).medianMs.toFixed(0)} ms, torch ${ref.step_ms.median.toFixed(0)} ms`);
    }
    const o = summarize(ours);
    const t = summarize(torch);
    return {
      config: target.config,
      ours: o,
      torch: t,
      ratioMedian: o.medianMs / t.medianMs,
      ratioMin: o.minMs / t.minMs,
      torchVersion: version,
      note: `${TORCH_ROUNDS} interleaved rounds of ${reps} steps each; torch with GLIBC_TUNABLES and OMP_WAIT_POLICY=PASSIVE`,
    };
  } catch (e) {
    const reason = e instanceof Error ? e.message : String(e);
    log(`[bench] PyTorch side-by-side skipped (${target.config}): ${reason}`);
    return { config: target.config, unavailable: `PyTorch reference not run (${reason.split('\n')[0]}); install Debian python3-torch and libopenblas0-pthread for it` };
  }
}

/** The reference prints median/min/max only: keep those three as samples of its round. */
function torchSamples(s: { median: number; min: number; max: number }, reps: number): number[] {
  return reps >= 3 ? [s.min, s.median, s.max] : [s.median];
}

/** unet_step.py: the official U-Net, base 16, batch 4 @ 128², LViT loss, Adam. */
export const unetTorchRound: TorchRound = (reps) =>
  runTorchReference({ arch: 'official', base: 16, res: 128, batch: 4, reps, env: { OMP_WAIT_POLICY: 'PASSIVE' } });

/** transunet_step.py: the official R50-ViT-B/16 (sigmoid + 0.5 Dice + 0.5 BCE, Adam) at `res`, `batch`. */
export function transunetTorchRound(res: number, batch: number): TorchRound {
  return (reps) => {
    const script = ['..', join('..', '..')].map((up) => join(process.cwd(), up, 'shared', 'tools', 'torch-reference', 'transunet_step.py')).find(existsSync);
    if (!script) throw new Error(`transunet_step.py not found under shared/tools/torch-reference/ (from ${process.cwd()})`);
    const out = execFileSync('/usr/bin/python3', [script, '--res', String(res), '--batch', String(batch), '--reps', String(reps), '--threads', '2'], {
      encoding: 'utf8',
      env: { ...process.env, OMP_WAIT_POLICY: 'PASSIVE' },
      timeout: 600_000,
    });
    const r = JSON.parse(out.trim().split('\n').pop()!);
    return { step_ms: r.step_ms, torch: r.torch ?? 'unknown' };
  };
}

export function torchLines(torch: TorchSideBySide): string[] {
  if ('unavailable' in torch) return [`  PyTorch side by side (${torch.config}): ${torch.unavailable}`];
  return [
    `  PyTorch side by side (${torch.config}; ${torch.note}; torch ${torch.torchVersion}):`,
    `    ours ${ms(torch.ours)}  torch ${ms(torch.torch)}  ratio ours/torch: median ${torch.ratioMedian.toFixed(2)}x, min ${torch.ratioMin.toFixed(2)}x`,
  ];
}
