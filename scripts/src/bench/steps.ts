/**
 * Timed train steps of the bench (bench.ts): FLOP counting and kernel profiles, and the full-size
 * LViT-T steps run in a child process (`bench.js --child-step`, also used by scripts/src/gpu).
 */
import * as tf from '@tensorflow/tfjs';
import { initBackend, profileRecordedStep, wasmHeapBytes, writeJsonAtomic } from '@lvit-bench/core';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BackendReport } from './backend.js';
import { ContentionMeter, memoryPeak, sampleMemory, type Contention, type MemoryPeak } from './contention.js';
import { requestFor, type BackendLabel, type Options } from './options.js';
import { summarize, type Stats } from './stats.js';
import { fullSizeTarget, type StepTarget } from './targets.js';

export interface StepResult {
  model: string;
  config: string;
  params: number;
  /** Forward FLOPs per step (2 x conv/matMul multiply-adds, counted from the kernels run). */
  forwardGflop: number;
  warmups: number;
  stats: Stats;
  firstStepMs: number;
  loss: { first: number; last: number };
  /** Tensors alive before the first and after the last step (flat = no leak). */
  tensors: { before: number; after: number };
  effectiveGflops: number;
  contention: Contention;
  topKernels?: { kernel: string; ms: number; share: number }[];
  /** MB of ORT session outputs in the profiled step, and how many of them were copied once more (onnxruntime engine). */
  sessionOutputMB?: number;
  sessionOutputCopiedMB?: number;
  /** Peak memory of the child process that ran this step (full-size runs only). */
  memory?: MemoryPeak;
}

/** Multiply-adds of one kernel call from its shapes (conv, transposed conv, matMul); 0 for others. */
export function kernelMacs(k: { name: string; inputShapes: number[][]; outputShapes: number[][] }): number {
  const size = (s: number[] | undefined) => (s ?? []).reduce((a, b) => a * b, 1);
  const [in0, in1] = k.inputShapes;
  const out = k.outputShapes[0];
  switch (k.name) {
    case 'Conv2D':
    case 'FusedConv2D':
      return size(out) * in1[0] * in1[1] * in1[2];
    case 'Conv2DBackpropInput': // forward of conv2dTranspose: dy [B,h,w,Cout] x W [k,k,Cin,Cout]
      return size(in0) * in1[0] * in1[1] * in1[2];
    case 'BatchMatMul':
    case '_FusedMatMul': {
      const m = out[out.length - 2];
      const [r, c] = in0.slice(-2);
      const k2 = r === m && c !== m ? c : c === m && r !== m ? r : m;
      return size(out) * k2;
    }
    default:
      return 0;
  }
}

/** What profiling a target adds to its StepResult. */
export type ProfileResult = Pick<StepResult, 'forwardGflop' | 'topKernels' | 'sessionOutputMB' | 'sessionOutputCopiedMB'>;

export async function profileForward(target: StepTarget, withStep: boolean): Promise<ProfileResult> {
  const fwd = await tf.profile(() => target.forward());
  tf.dispose(fwd.result as tf.Tensor);
  const macs = fwd.kernels.reduce((s, k) => s + kernelMacs(k as unknown as Parameters<typeof kernelMacs>[0]), 0);
  const result: ProfileResult = { forwardGflop: (2 * macs) / 1e9 };
  if (withStep) {
    // On the onnxruntime engine a step is one recorded program: profile inside it (per tfjs kernel that wrote its nodes).
    const program = await profileRecordedStep(() => target.step());
    if (program) {
      const total = program.byKernel.reduce((a, r) => a + r.ms, 0);
      result.topKernels = program.byKernel.slice(0, 10).map((r) => ({ kernel: r.name, ms: r.ms, share: r.ms / total }));
      result.sessionOutputMB = program.outputMB;
      result.sessionOutputCopiedMB = program.copiedMB;
      return result;
    }
    const prof = await tf.profile(async () => {
      await target.step();
      return tf.scalar(0);
    });
    tf.dispose(prof.result as tf.Tensor);
    const byKernel = new Map<string, number>();
    for (const k of prof.kernels) byKernel.set(k.name, (byKernel.get(k.name) ?? 0) + (k.kernelTimeMs as number));
    const total = [...byKernel.values()].reduce((a, b) => a + b, 0);
    result.topKernels = [...byKernel.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 10)
      .map(([kernel, ms]) => ({ kernel, ms, share: ms / total }));
  }
  return result;
}

export async function runStep(make: () => StepTarget, opts: Options, log: (m: string) => void): Promise<StepResult> {
  const target = make();
  try {
    const profile = await profileForward(target, opts.profile);
    const tensorsBefore = tf.memory().numTensors;
    const samples: number[] = [];
    const losses: number[] = [];
    let firstStepMs = 0;
    const meter = new ContentionMeter();
    for (let i = 0; i < target.warmups + target.reps; i++) {
      meter.startRep();
      const t0 = performance.now();
      losses.push(await target.step());
      const dt = performance.now() - t0;
      meter.endRep(i >= target.warmups);
      sampleMemory();
      if (i === 0) firstStepMs = dt;
      if (i >= target.warmups) samples.push(dt);
      log(`    ${target.model} step ${i + 1}/${target.warmups + target.reps}: ${dt.toFixed(0)} ms${i < target.warmups ? ' (warm-up)' : ''}`);
    }
    const stats = summarize(samples);
    return {
      model: target.model,
      config: target.config,
      params: target.params,
      ...profile,
      warmups: target.warmups,
      stats,
      firstStepMs,
      loss: { first: losses[0], last: losses[losses.length - 1] },
      tensors: { before: tensorsBefore, after: tf.memory().numTensors },
      effectiveGflops: (3 * profile.forwardGflop) / (stats.medianMs / 1000),
      contention: meter.finish(),
    };
  } finally {
    target.dispose();
  }
}

// ---------------------------------------------------------------- full-size runs in a child process

/**
 * Full-size LViT runs in a child process: at batch 2 @ 224 its training step needs more than the
 * 4 GB a wasm32 heap can hold, and an Emscripten abort (or a stall near the limit) leaves that
 * backend unusable. The side-by-side PyTorch comparisons run in one too (bench/side-by-side.ts), for
 * a clean peak RSS. `childArgs` name the child mode (`--child-step ...` or `--child-side-by-side ...`);
 * the child reports what it wrote to its --json file, or its failure.
 */
export async function runChild<T>(label: BackendLabel, childArgs: string[], opts: Options, log: (m: string) => void): Promise<{ result?: T; failure?: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'lvit-bench-child-'));
  const out = join(dir, 'result.json');
  const args = [...process.execArgv, process.argv[1], '--backend', label, ...childArgs, '--json', out];
  if (opts.threads !== undefined) args.push('--threads', String(opts.threads));
  const tail: string[] = [];
  const code = await new Promise<number | null>((resolve) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'], env: childEnv() });
    const timer = setTimeout(() => {
      tail.push(`[bench] child failed: no result after ${CHILD_TIMEOUT_MS / 60_000} min; stopped`);
      child.kill('SIGKILL');
    }, CHILD_TIMEOUT_MS);
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      for (const line of chunk.split('\n').filter(Boolean)) {
        log(`  | ${line}`);
        tail.push(line);
        if (tail.length > 20) tail.shift();
      }
    });
    child.on('close', (exitCode) => {
      clearTimeout(timer);
      resolve(exitCode);
    });
  });
  try {
    if (code === 0) return { result: JSON.parse(readFileSync(out, 'utf8')) as T };
    const reason = tail.filter((l) => /\[bench\] child failed|Error|Aborted/.test(l)).pop() ?? `exit code ${code}`;
    return { failure: reason.replace(/^\[bench\] child failed: /, '') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * This process's environment for a child of it. Where this process is itself core's GLIBC_TUNABLES
 * re-exec (engine/glibc.ts), the child inherits the re-exec marker and would watch the wrong parent
 * (the launcher, not this process) and end itself at once with SIGTERM; it watches this process instead.
 */
function childEnv(): NodeJS.ProcessEnv {
  return process.env.LVIT_BENCH_PARENT_PID ? { ...process.env, LVIT_BENCH_PARENT_PID: String(process.pid) } : process.env;
}

export const WASM32_HEAP_MB = 4096;
/** A child still running after this long is stopped (a wasm heap at its 4 GB limit can stall instead of aborting). */
export const CHILD_TIMEOUT_MS = 15 * 60_000;

/**
 * Batch 2 is the official setting. On wasm, batch 1 runs first: its measured heap peak tells
 * whether batch 2 (about twice the activations) can fit in the 4 GB wasm32 heap at all.
 */
export async function fullSizeSteps(label: BackendLabel, opts: Options, report: BackendReport, log: (m: string) => void): Promise<void> {
  const wasm = label.startsWith('wasm');
  const results = new Map<number, StepResult>();
  for (const batch of wasm ? [1, 2] : [2, 1]) {
    if (!wasm && results.size > 0) break;
    const one = results.get(1);
    if (batch === 2 && one?.memory?.wasmHeapMB && 2 * one.memory.wasmHeapMB > 0.95 * WASM32_HEAP_MB) {
      report.notes.push(
        `full-size LViT-T batch 2 @ 224 not run: batch 1 already peaks at ${one.memory.wasmHeapMB.toFixed(0)} MB of wasm heap; ` +
          `batch 2 needs about twice that, over the ${WASM32_HEAP_MB} MB wasm32 limit (an attempt aborts or stalls)`,
      );
      break;
    }
    log(`[bench] ${label}: full-size LViT-T, batch ${batch} @ 224, in a child process`);
    const childArgs = ['--child-step', `lvit-full:${batch}`, '--reps', String(Math.min(opts.reps, 3)), ...(opts.profile ? ['--profile'] : [])];
    const { result: step, failure } = await runChild<StepResult>(label, childArgs, opts, log);
    if (step) results.set(batch, step);
    else report.notes.push(`full-size LViT-T batch ${batch} @ 224 failed: ${failure}`);
  }
  report.steps.push(...[...results.entries()].sort((a, b) => b[0] - a[0]).map(([, step]) => step));
}

/** Child mode: one full-size step target on one backend; writes the StepResult to --json. */
export async function childMain(opts: Options, log: (m: string) => void): Promise<void> {
  const label = opts.backends[0];
  const { req, threads } = requestFor(label, opts.threads);
  // Full-size targets read asynchronously, so tfjs-webgpu (no sync reads in Node) can be timed too.
  await initBackend(req, { threads, log: () => {}, asyncReads: true });
  try {
    const step = await runStep(() => fullSizeTarget(opts.childStep!, opts.reps), opts, log);
    step.memory = { ...memoryPeak };
    if (opts.json) writeJsonAtomic(opts.json, step);
  } catch (e) {
    const heap = wasmHeapBytes();
    const heapNote = heap === null ? '' : ` (wasm heap ${(heap / 2 ** 20).toFixed(0)} MB of the 4096 MB wasm32 maximum)`;
    throw new Error(`[bench] child failed: ${e instanceof Error ? e.message : String(e)}${heapNote}`);
  }
}
