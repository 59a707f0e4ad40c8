/** The bench's flags (bench.ts), its usage text and the backend labels it takes. */
import type { BackendRequest } from '@lvit-bench/core';
import { listFlag, parseFlags, stringFlag } from '../lib/args.js';
import { parseFullSizeStep, type FullSizeStep } from './targets.js';

export const FLAGS = {
  backend: 'string',
  reps: 'string',
  threads: 'string',
  json: 'string',
  quick: 'boolean',
  profile: 'boolean',
  'no-torch': 'boolean',
  help: 'boolean',
  /** Run one full-size step target in this (child) process: 'lvit-full:2', 'unet-full:8' (bench/targets.ts). */
  'child-step': 'string',
} as const;
export const BACKEND_LABELS = ['wasm-mt', 'wasm-1t', 'onnxruntime', 'cpu', 'webgpu', 'onnxruntime-webgpu', 'tensorflow'] as const;
export type BackendLabel = (typeof BACKEND_LABELS)[number];
export const DEFAULT_BACKENDS: BackendLabel[] = ['wasm-mt', 'wasm-1t', 'onnxruntime', 'cpu'];

export interface Options {
  backends: BackendLabel[];
  reps: number;
  threads?: number;
  json?: string;
  quick: boolean;
  profile: boolean;
  /** Time the PyTorch reference U-Net step side by side. */
  torch: boolean;
  childStep?: FullSizeStep;
}

export function parseOptions(argv: string[]): Options | null {
  const flags = parseFlags(argv, FLAGS);
  if (flags.help) return null;
  const backends = (listFlag(flags, 'backend') ?? DEFAULT_BACKENDS) as string[];
  for (const b of backends) {
    if (!(BACKEND_LABELS as readonly string[]).includes(b)) {
      throw new Error(`bench.ts: unknown --backend '${b}'. Valid: ${BACKEND_LABELS.join(', ')}`);
    }
  }
  const reps = Number(stringFlag(flags, 'reps') ?? '5');
  if (!Number.isInteger(reps) || reps < 1) throw new Error(`bench.ts: --reps must be a positive integer, got ${stringFlag(flags, 'reps')}`);
  const threadsFlag = stringFlag(flags, 'threads');
  const threads = threadsFlag === undefined ? undefined : Number(threadsFlag);
  if (threads !== undefined && (!Number.isInteger(threads) || threads < 1)) throw new Error(`bench.ts: --threads must be a positive integer, got ${threadsFlag}`);
  const child = stringFlag(flags, 'child-step');
  return {
    backends: backends as BackendLabel[],
    reps,
    threads,
    json: stringFlag(flags, 'json'),
    quick: flags.quick === true,
    profile: flags.profile === true,
    torch: flags['no-torch'] !== true,
    childStep: child === undefined ? undefined : parseFullSizeStep(child),
  };
}

export const USAGE = `usage: node scripts/dist/bench.js [--backend ${DEFAULT_BACKENDS.join(',')}] [--reps 5] [--threads N] [--quick] [--profile] [--json path]
  --backend  comma list of ${BACKEND_LABELS.join(', ')} (unavailable ones are reported and skipped)
  --reps     timed repetitions after 2 warm-ups (full-size LViT: min(reps, 3) after 1 warm-up)
  --quick    skip full-size LViT-T (batch 2 @ 224, or batch 1 where batch 2 cannot fit the wasm heap; runs in a
             child process) and use fewer op repetitions
  --profile  add the top kernels of one profiled train step per model
  --no-torch skip the side-by-side PyTorch steps: U-Net, and TransUNet on onnxruntime (need Debian python3-torch + libopenblas0-pthread)`;

export function requestFor(label: BackendLabel, threads: number | undefined): { req: BackendRequest; threads?: number } {
  switch (label) {
    case 'wasm-mt':
      return { req: 'wasm', threads };
    case 'wasm-1t':
      return { req: 'wasm', threads: 1 };
    default:
      return { req: label, threads };
  }
}
