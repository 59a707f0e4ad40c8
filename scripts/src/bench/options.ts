/** The bench's flags (bench.ts), its usage text and the backend labels it takes. */
import type { BackendRequest } from '@lvit-bench/core';
import { listFlag, parseFlags, stringFlag } from '../lib/args.js';
import { parseFullSizeStep, type FullSizeStep } from './targets.js';
import { TORCH_ROUNDS } from './torch.js';

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
  /** Only the PyTorch side-by-side comparisons: a comma list of SIDE_BY_SIDE names; bare, all of them. */
  'side-by-side': 'string',
  /** Run one side-by-side comparison in this (child) process: a SIDE_BY_SIDE name (bench/side-by-side.ts). */
  'child-side-by-side': 'string',
} as const;
export const BACKEND_LABELS = ['wasm-mt', 'wasm-1t', 'onnxruntime', 'cpu', 'webgpu', 'onnxruntime-webgpu', 'tensorflow'] as const;
export type BackendLabel = (typeof BACKEND_LABELS)[number];
export const DEFAULT_BACKENDS: BackendLabel[] = ['wasm-mt', 'wasm-1t', 'onnxruntime', 'cpu'];
/**
 * The PyTorch side-by-side comparisons (bench/side-by-side.ts): official U-Net base 16, batch 4 @ 128²;
 * official U-Net full width (base 64), batch 2 @ 224²; official LViT-T, batch 2 @ 224²; TransUNet
 * R50-ViT-B/16, batch 2 @ 128².
 */
export const SIDE_BY_SIDE = ['unet16', 'unet-full', 'lvit-full', 'transunet'] as const;
export type SideBySideName = (typeof SIDE_BY_SIDE)[number];

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
  /** --side-by-side: run only these comparisons (no op GFLOPS, no other steps). */
  sideBySide?: SideBySideName[];
  /** Child mode: run this one comparison and write it to --json. */
  childSideBySide?: SideBySideName;
}

export function parseOptions(argv: string[]): Options | null {
  const flags = parseFlags(bareSideBySideAsAll(argv), FLAGS);
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
  const sideBySide = stringFlag(flags, 'side-by-side');
  if (sideBySide !== undefined && flags['no-torch'] === true) throw new Error('bench.ts: --side-by-side and --no-torch exclude each other');
  const childSideBySide = stringFlag(flags, 'child-side-by-side');
  return {
    backends: backends as BackendLabel[],
    reps,
    threads,
    json: stringFlag(flags, 'json'),
    quick: flags.quick === true,
    profile: flags.profile === true,
    torch: flags['no-torch'] !== true,
    childStep: child === undefined ? undefined : parseFullSizeStep(child),
    sideBySide: sideBySide === undefined ? undefined : parseSideBySide(sideBySide),
    childSideBySide: childSideBySide === undefined ? undefined : parseSideBySide(childSideBySide, 'child-side-by-side')[0],
  };
}

/** `--side-by-side` without a value (last, or followed by another flag) means all comparisons: `--side-by-side=all`. */
export function bareSideBySideAsAll(argv: string[]): string[] {
  return argv.map((arg, i) => (arg === '--side-by-side' && (i + 1 === argv.length || argv[i + 1].startsWith('--')) ? '--side-by-side=all' : arg));
}

/** A comma list of SIDE_BY_SIDE names, or `all`; `child-side-by-side` takes exactly one name. */
export function parseSideBySide(value: string, flag: 'side-by-side' | 'child-side-by-side' = 'side-by-side'): SideBySideName[] {
  const names = listFlag({ [flag]: value }, flag)!;
  if (flag === 'side-by-side' && names.length === 1 && names[0] === 'all') return [...SIDE_BY_SIDE];
  for (const n of names) {
    if (!(SIDE_BY_SIDE as readonly string[]).includes(n)) throw new Error(`bench.ts: unknown --${flag} '${n}'. Valid: ${SIDE_BY_SIDE.join(', ')}${flag === 'side-by-side' ? ' (or all)' : ''}`);
  }
  if (flag === 'child-side-by-side' && names.length !== 1) throw new Error(`bench.ts: --child-side-by-side takes one name, got '${value}'`);
  return names as SideBySideName[];
}

export const USAGE = `usage: node scripts/dist/bench.js [--backend ${DEFAULT_BACKENDS.join(',')}] [--reps 5] [--threads N] [--quick] [--profile] [--json path]
                                [--side-by-side [${SIDE_BY_SIDE.join(',')}]]
  --backend  comma list of ${BACKEND_LABELS.join(', ')} (unavailable ones are reported and skipped)
  --reps     timed repetitions after 2 warm-ups (full-size LViT: min(reps, 3) after 1 warm-up)
  --quick    skip full-size LViT-T (batch 2 @ 224, or batch 1 where batch 2 cannot fit the wasm heap; runs in a
             child process) and use fewer op repetitions
  --profile  add the top kernels of one profiled train step per model
  --no-torch skip the side-by-side PyTorch steps (need Debian python3-torch + libopenblas0-pthread): unet16, and on
             onnxruntime also unet-full, lvit-full (not with --quick) and transunet
  --side-by-side [LIST]
             run only the side-by-side PyTorch steps (no op GFLOPS, no other steps) on each non-cpu backend given:
             a comma list of ${SIDE_BY_SIDE.join(', ')}, or bare / all for all of them.
               unet16     official U-Net, base 16, batch 4 @ 128² (unet_step.py --base 16)
               unet-full  official U-Net full width (base 64), batch 2 @ 224² (unet_step.py --base 64)
               lvit-full  official LViT-T, batch 2 @ 224² (lvit_step.py --model lvit)
               transunet  TransUNet R50-ViT-B/16, batch 2 @ 128² (transunet_step.py)
             Each comparison runs in a child process: ${TORCH_ROUNDS} interleaved rounds of suite steps and a torch
             run (--reps steps each; full-size ones min(reps, 3) after 1 warm-up), printing ours/torch (median and
             min) and both sides' peak RSS`;

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
