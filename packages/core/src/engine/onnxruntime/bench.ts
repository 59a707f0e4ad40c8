import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Bench helpers: time a step function, and run the PyTorch reference script
 * (shared/tools/torch-reference/unet_step.py) in the same minute for a side-by-side ratio.
 */

export const GLIBC_TUNABLES = 'glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=68719476736';

export interface StepTimes {
  median: number;
  min: number;
  max: number;
  n: number;
  all: number[];
}

/** Runs `step` `warmup` times untimed, then `reps` times timed (ms). */
export function timeSteps(step: () => unknown, reps = 7, warmup = 2): StepTimes {
  for (let i = 0; i < warmup; i++) step();
  const all: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    step();
    all.push(performance.now() - t0);
  }
  const sorted = [...all].sort((a, b) => a - b);
  return { median: sorted[Math.floor(sorted.length / 2)], min: sorted[0], max: sorted[sorted.length - 1], n: reps, all };
}

export interface TorchReferenceResult {
  arch: string;
  base: number;
  res: number;
  batch: number;
  threads: number;
  params: number;
  step_ms: { median: number; min: number; max: number; n: number };
  forward_ms: { median: number; min: number; max: number; n: number };
  torch: string;
}

export interface TorchReferenceOptions {
  arch?: 'official' | 'plain';
  base?: number;
  res?: number;
  batch?: number;
  reps?: number;
  threads?: number;
  /** Interpreter with torch; the python3 on PATH may be a shim without it. */
  python?: string;
  /** Path of unet_step.py; default: $LVIT_TORCH_REFERENCE or <repo>/../shared/tools/torch-reference/unet_step.py. */
  script?: string;
  timeoutMs?: number;
  /** Extra environment, e.g. { OMP_WAIT_POLICY: 'PASSIVE' } (torch's spinning OpenMP threads collapse when other processes share the cores). */
  env?: Record<string, string>;
}

export function defaultTorchScript(): string {
  if (process.env.LVIT_TORCH_REFERENCE) return process.env.LVIT_TORCH_REFERENCE;
  // this file: <repo>/packages/core/{src,dist}/engine/onnxruntime/bench.{ts,js}
  const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../../..');
  return path.resolve(repo, '../shared/tools/torch-reference/unet_step.py');
}

/**
 * Runs the torch reference step (with GLIBC_TUNABLES, as ENGINE.md measures it) and parses its
 * JSON line. Throws an Error naming the problem if python/torch or the script is missing.
 */
export function runTorchReference(opts: TorchReferenceOptions = {}): TorchReferenceResult {
  const script = opts.script ?? defaultTorchScript();
  const python = opts.python ?? '/usr/bin/python3';
  if (!existsSync(script)) throw new Error(`onnxruntime/bench.ts: torch reference script not found: ${script}`);
  const args = [
    script,
    '--arch', opts.arch ?? 'official',
    '--base', String(opts.base ?? 16),
    '--res', String(opts.res ?? 128),
    '--batch', String(opts.batch ?? 4),
    '--reps', String(opts.reps ?? 7),
    '--threads', String(opts.threads ?? 2),
  ];
  const r = spawnSync(python, args, {
    encoding: 'utf8',
    timeout: opts.timeoutMs ?? 600_000,
    env: { ...process.env, GLIBC_TUNABLES, ...opts.env },
  });
  if (r.error) throw new Error(`onnxruntime/bench.ts: cannot run ${python}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`onnxruntime/bench.ts: torch reference failed (exit ${r.status}): ${r.stderr.trim().slice(-500)}`);
  const line = r.stdout.trim().split('\n').reverse().find((l) => l.startsWith('{'));
  if (!line) throw new Error(`onnxruntime/bench.ts: torch reference printed no JSON line: ${r.stdout.slice(-300)}`);
  return JSON.parse(line) as TorchReferenceResult;
}
