/**
 * The suite's train step side by side with the official model's in PyTorch (shared/tools/torch-reference/),
 * interleaved in rounds so both see the same minute of this noisy machine: U-Net (unet_step.py), LViT-T
 * (lvit_step.py) and TransUNet R50-ViT-B/16 (transunet_step.py). Torch runs with GLIBC_TUNABLES and
 * OMP_WAIT_POLICY=PASSIVE: its spinning OpenMP threads otherwise collapse (to ~4 s a step) whenever
 * another process holds a core. The scripts run unmodified under a runpy wrapper that adds their peak RSS.
 */
import { GLIBC_TUNABLES_VALUE } from '@lvit-bench/core';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ms, summarize, type Stats } from './stats.js';

export const TORCH_ROUNDS = 3;

/**
 * Warm-up steps before either side is timed, whatever the target's own count: the reference scripts
 * run 2 in each process. The suite's second step still grows the malloc heap to its working set
 * (fresh pages, ~1.5 ms a MB here), so one warm-up alone would time that growth on our side only.
 */
export const TORCH_WARMUPS = 2;

export interface TorchComparison {
  config: string;
  ours: Stats;
  torch: Stats;
  /** ours / torch, medians and mins. */
  ratioMedian: number;
  ratioMin: number;
  torchVersion: string;
  note: string;
  /** Peak resident memory of each side's process over the whole comparison (MB; null where unknown). */
  peakRssMB: { ours: number | null; torch: number | null };
}

export type TorchSideBySide = TorchComparison | { config: string; unavailable: string };

/** What one run of a reference script reports: its step's median/min/max, torch version and peak RSS. */
export interface TorchRoundResult {
  step_ms: { median: number; min: number; max: number };
  torch: string;
  /** ru_maxrss of the python process (KB on Linux); null where the wrapper's line is missing. */
  maxrssKB: number | null;
}

/** One timed round of the PyTorch reference. */
export type TorchRound = (reps: number) => TorchRoundResult;

/** What a side-by-side needs of a suite step: its config text and one step. */
export interface SuiteStep {
  config: string;
  /** One step; a returned Promise is awaited (and timed). */
  step: () => unknown;
}

/**
 * Suite steps and PyTorch rounds in turn. `oursPeakRssMB` reads the suite's peak RSS at the end (a clean
 * figure only where this process ran nothing else: the bench runs each comparison in a child process).
 */
export async function sideBySide(target: SuiteStep, torchRound: TorchRound, reps: number, log: (m: string) => void, oursPeakRssMB: () => number | null = () => null): Promise<TorchSideBySide> {
  try {
    for (let i = 0; i < TORCH_WARMUPS; i++) await target.step();
    const ours: number[] = [];
    const torch: number[] = [];
    let version = '';
    let torchPeakKB: number | null = null;
    for (let round = 0; round < TORCH_ROUNDS; round++) {
      for (let i = 0; i < reps; i++) {
        const t0 = performance.now();
        await target.step();
        ours.push(performance.now() - t0);
      }
      const ref = torchRoundRetried(torchRound, reps, log);
      torch.push(...torchSamples(ref.step_ms, reps));
      version = ref.torch;
      if (ref.maxrssKB !== null) torchPeakKB = Math.max(torchPeakKB ?? 0, ref.maxrssKB);
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
      peakRssMB: { ours: oursPeakRssMB(), torch: torchPeakKB === null ? null : torchPeakKB / 1024 },
    };
  } catch (e) {
    const reason = e instanceof Error ? e.message : String(e);
    log(`[bench] PyTorch side-by-side skipped (${target.config}): ${reason}`);
    return { config: target.config, unavailable: unavailableReason(reason) };
  }
}

/**
 * How often one torch round is tried. lvit_step.py fails a step now and then
 * (binary_cross_entropy: 'all elements of input should be between 0 and 1'): the official network's
 * backward under Debian's torch 1.13 returns garbage gradients (max |grad| 1e22-1e34 at the first
 * step, a different weight each run, while the forward loss is the same to every digit), so Adam
 * turns weights into NaN within a few steps. Seen with 1 and 2 threads, with and without
 * GLIBC_TUNABLES; about half of the runs fail. Only the torch side's timing is used, and the same
 * kernels run either way.
 */
export const TORCH_ATTEMPTS = 6;

function torchRoundRetried(torchRound: TorchRound, reps: number, log: (m: string) => void): TorchRoundResult {
  for (let attempt = 1; ; attempt++) {
    try {
      return torchRound(reps);
    } catch (e) {
      if (attempt === TORCH_ATTEMPTS) throw e;
      log(`[bench] torch run failed (attempt ${attempt} of ${TORCH_ATTEMPTS}), running it again: ${(e instanceof Error ? e.message : String(e)).split('\n')[0]}`);
    }
  }
}

/** Why no comparison came out; the install hint only where torch itself was missing. */
function unavailableReason(reason: string): string {
  const first = reason.split('\n')[0];
  const missing = /No module named|cannot run|not found under/.test(reason);
  return `PyTorch reference not run (${first})${missing ? '; install Debian python3-torch and libopenblas0-pthread for it' : ''}`;
}

/** The reference prints median/min/max only: keep those three as samples of its round. */
function torchSamples(s: { median: number; min: number; max: number }, reps: number): number[] {
  return reps >= 3 ? [s.min, s.median, s.max] : [s.median];
}

/** Runs a reference script (with GLIBC_TUNABLES, as ENGINE.md measures it, and OMP_WAIT_POLICY=PASSIVE) under the peak-RSS wrapper. */
function runTorchScript(name: string, args: string[]): TorchRoundResult {
  const script = torchReferenceScript(name);
  const python = '/usr/bin/python3'; // the python3 on PATH may be a shim without torch
  const r = spawnSync(python, ['-c', PEAK_RSS_WRAPPER, script, ...args, '--threads', '2'], {
    encoding: 'utf8',
    timeout: 600_000,
    env: { ...process.env, GLIBC_TUNABLES: GLIBC_TUNABLES_VALUE, OMP_WAIT_POLICY: 'PASSIVE' },
  });
  if (r.error) throw new Error(`cannot run ${python}: ${r.error.message}`);
  if (r.status !== 0) {
    const stderr = r.stderr.trim();
    throw new Error(`${name} failed (exit ${r.status}): ${stderr.split('\n').pop()}\n${stderr.slice(-500)}`);
  }
  return parseTorchOutput(r.stdout);
}

/** Runs the script given as argv[1] as __main__ with the rest as its argv, then prints its peak RSS as one more JSON line. */
const PEAK_RSS_WRAPPER =
  "import runpy, sys, resource, json; script = sys.argv[1]; sys.argv = sys.argv[1:]; runpy.run_path(script, run_name='__main__'); " +
  "print(json.dumps({'maxrss_kb': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}), flush=True)";

/** The script's JSON line (the one with step_ms) and the wrapper's `{"maxrss_kb": N}` line, from its stdout. */
export function parseTorchOutput(stdout: string): TorchRoundResult {
  const objects = stdout
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  const step = objects.filter((o) => typeof o.step_ms === 'object' && o.step_ms !== null).pop();
  if (!step) throw new Error(`torch reference printed no step_ms JSON line: ${stdout.slice(-300)}`);
  const rss = objects.filter((o) => typeof o.maxrss_kb === 'number').pop();
  return {
    step_ms: step.step_ms as TorchRoundResult['step_ms'],
    torch: typeof step.torch === 'string' ? step.torch : 'unknown',
    maxrssKB: rss ? (rss.maxrss_kb as number) : null,
  };
}

/**
 * shared/tools/torch-reference/<name> next to this checkout (from this file or the working directory),
 * or in the folder of $LVIT_TORCH_REFERENCE (core's override for unet_step.py's path) where that is set.
 */
function torchReferenceScript(name: string): string {
  const here = dirname(fileURLToPath(import.meta.url)); // scripts/{src,dist}/bench
  const dirs = [join(here, '..', '..', '..', '..'), join(process.cwd(), '..'), join(process.cwd(), '..', '..')].map((root) => join(root, 'shared', 'tools', 'torch-reference'));
  if (process.env.LVIT_TORCH_REFERENCE) dirs.unshift(dirname(process.env.LVIT_TORCH_REFERENCE));
  const script = dirs.map((dir) => join(dir, name)).find(existsSync);
  if (!script) throw new Error(`${name} not found under shared/tools/torch-reference/ (from ${here} or ${process.cwd()})`);
  return script;
}

/** unet_step.py: the official U-Net (LViT loss, Adam) at `base`, batch `batch` @ `res`². */
export function unetTorchRound(base: number, res: number, batch: number): TorchRound {
  return (reps) => runTorchScript('unet_step.py', ['--arch', 'official', '--base', String(base), '--res', String(res), '--batch', String(batch), '--reps', String(reps)]);
}

/** lvit_step.py --model lvit: the OFFICIAL LViT network code (0.5 Dice + 0.5 BCE, Adam), batch `batch` @ `res`². */
export function lvitTorchRound(res: number, batch: number): TorchRound {
  return (reps) => runTorchScript('lvit_step.py', ['--model', 'lvit', '--res', String(res), '--batch', String(batch), '--reps', String(reps)]);
}

/** transunet_step.py: the official R50-ViT-B/16 (sigmoid + 0.5 Dice + 0.5 BCE, Adam) at `res`, `batch`. */
export function transunetTorchRound(res: number, batch: number): TorchRound {
  return (reps) => runTorchScript('transunet_step.py', ['--res', String(res), '--batch', String(batch), '--reps', String(reps)]);
}

export function torchLines(torch: TorchSideBySide): string[] {
  if ('unavailable' in torch) return [`  PyTorch side by side (${torch.config}): ${torch.unavailable}`];
  return [
    `  PyTorch side by side (${torch.config}; ${torch.note}; torch ${torch.torchVersion}):`,
    `    ours ${ms(torch.ours)}  torch ${ms(torch.torch)}  ratio ours/torch: median ${torch.ratioMedian.toFixed(2)}x, min ${torch.ratioMin.toFixed(2)}x`,
    `    peak RSS: ${peakRssText(torch.peakRssMB)}`,
  ];
}

function peakRssText({ ours, torch }: TorchComparison['peakRssMB']): string {
  const mb = (v: number | null) => (v === null ? '-' : `${v.toFixed(0)} MB`);
  const ratio = ours !== null && torch !== null ? ` (ours/torch ${(ours / torch).toFixed(2)}x)` : '';
  return `ours ${mb(ours)}, torch ${mb(torch)}${ratio}`;
}
