/**
 * Training-engine benchmark: `node scripts/dist/bench.js [--backend wasm-mt,wasm-1t,onnxruntime,cpu]
 * [--reps 5] [--quick] [--json out.json] [--profile]` (or `turbo run bench -- ...`).
 *
 * Per backend it measures (ENGINE.md §0/§1.4 shapes):
 * - conv2d 3x3 forward, Conv2DBackpropFilter and Conv2DBackpropInput at [8,112,112,32]->32 and
 *   [8,56,56,64]->64, the 2x2/s2 up-conv, and matMul 1024 plain / transposed / batched, in GFLOPS;
 * - the train step of the official U-Net (baselines `UNet`, base 16, batch 4 @ 128², Adam, core
 *   `trainStep`) and, for ENGINE.md's bar (674 ms on wasm-mt, 2 threads), the same plain U-Net it
 *   was measured on (482,033 parameters, BCE-with-logits);
 * - TransUNet at the quick-profile config, and side by side with PyTorch (onnxruntime only) the full
 *   R50-ViT-B/16 at batch 2 @ 128² against the official model (shared/tools/torch-reference/transunet_step.py);
 * - LViT-T (if registered) at the quick-profile size and, unless --quick, at full size batch 2 @ 224;
 * - peak RSS, JS heap and wasm heap.
 * Step times are median (min-max) over --reps runs after 2 warm-ups. The cpu backend only gets small
 * conv/matMul numbers (a U-Net step takes ~25 s there).
 */
import * as tf from '@tensorflow/tfjs';
import {
  Adam,
  Conv2d,
  ConvTranspose2d,
  createModel,
  ensureGlibcTunables,
  initBackend,
  listModels,
  maxPool2x2,
  Module,
  Rng,
  shutdownBackend,
  wasmHeapBytes,
  type BackendInfo,
  type BackendRequest,
} from '@lvit-bench/core';
import { TransUNet, UNet, type TransUNetConfig } from '@lvit-bench/baselines';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { listFlag, parseFlags, stringFlag } from './lib/args.js';
import { fullSizeTarget, fullTransunetTarget, parseFullSizeStep, randomBatch, segmentationTarget, withTarget, type FullSizeStep, type StepTarget } from './bench/targets.js';
import { writeJsonAtomic } from '@lvit-bench/core';
import { getProfile } from './configs/profiles.js';
import { ms, summarize, type Stats } from './bench/stats.js';
import { sideBySide, torchLines, transunetTorchRound, unetTorchRound, type TorchSideBySide } from './bench/torch.js';

const FLAGS = {
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
const BACKEND_LABELS = ['wasm-mt', 'wasm-1t', 'onnxruntime', 'cpu', 'webgpu', 'onnxruntime-webgpu', 'tensorflow'] as const;
type BackendLabel = (typeof BACKEND_LABELS)[number];
const DEFAULT_BACKENDS: BackendLabel[] = ['wasm-mt', 'wasm-1t', 'onnxruntime', 'cpu'];
/** Backends whose kernels finish before the op call returns; others are synced by reading a value. */
const SYNC_BACKENDS = new Set(['wasm', 'cpu', 'tensorflow', 'onnxruntime']);
const ENGINE_BAR_MS = 674;

interface Options {
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

/** What else ran on the machine during a measurement (this VM is shared; see ENGINE.md's gate). */
interface Contention {
  /** Process CPU time (all threads, incl. wasm pthreads) per repetition: insensitive to other jobs. */
  cpu: Stats;
  /** Share of the machine's CPU capacity used by other processes during the timed runs (from /proc/stat). */
  othersBusyPct: number | null;
}

interface OpResult {
  op: string;
  shape: string;
  flops: number;
  stats: Stats;
  gflops: number;
  contention: Contention;
}

interface StepResult {
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
  /** Peak memory of the child process that ran this step (full-size runs only). */
  memory?: MemoryPeak;
}

interface MemoryPeak {
  rssMB: number;
  heapUsedMB: number;
  wasmHeapMB: number | null;
}

interface BackendReport {
  label: BackendLabel;
  info: BackendInfo | null;
  unavailable?: string;
  ops: OpResult[];
  steps: StepResult[];
  notes: string[];
  memory: MemoryPeak;
  /** The U-Net step next to PyTorch's (goal 1.2x). */
  torch?: TorchSideBySide;
  /** TransUNet R50-ViT-B/16 next to PyTorch's (onnxruntime only: the training engine; a full-size step takes seconds). */
  torchTransunet?: TorchSideBySide;
}

// ---------------------------------------------------------------- flags

function parseOptions(argv: string[]): Options | null {
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

const USAGE = `usage: node scripts/dist/bench.js [--backend ${DEFAULT_BACKENDS.join(',')}] [--reps 5] [--threads N] [--quick] [--profile] [--json path]
  --backend  comma list of ${BACKEND_LABELS.join(', ')} (unavailable ones are reported and skipped)
  --reps     timed repetitions after 2 warm-ups (full-size LViT: min(reps, 3) after 1 warm-up)
  --quick    skip full-size LViT-T (batch 2 @ 224, or batch 1 where batch 2 cannot fit the wasm heap; runs in a
             child process) and use fewer op repetitions
  --profile  add the top kernels of one profiled train step per model
  --no-torch skip the side-by-side PyTorch steps: U-Net, and TransUNet on onnxruntime (need Debian python3-torch + libopenblas0-pthread)`;

// ---------------------------------------------------------------- timing

const memoryPeak: MemoryPeak = { rssMB: 0, heapUsedMB: 0, wasmHeapMB: null };

function sampleMemory(): void {
  const m = process.memoryUsage();
  memoryPeak.rssMB = Math.max(memoryPeak.rssMB, m.rss / 2 ** 20);
  memoryPeak.heapUsedMB = Math.max(memoryPeak.heapUsedMB, m.heapUsed / 2 ** 20);
  const wasm = wasmHeapBytes();
  if (wasm !== null) memoryPeak.wasmHeapMB = Math.max(memoryPeak.wasmHeapMB ?? 0, wasm / 2 ** 20);
}

/** Jiffies of all CPUs (total, idle+iowait) from /proc/stat; null where it does not exist. */
function cpuJiffies(): { total: number; idle: number } | null {
  try {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    return { total: fields.reduce((a, b) => a + b, 0), idle: fields[3] + (fields[4] ?? 0) };
  } catch {
    return null;
  }
}

/** Measures wall time, own CPU time and other processes' load around repeated runs. */
class ContentionMeter {
  private readonly jiffies0 = cpuJiffies();
  private readonly own0 = process.cpuUsage();
  private readonly cpuSamples: number[] = [];
  private lap = process.cpuUsage();

  /** Call right before a timed repetition. */
  startRep(): void {
    this.lap = process.cpuUsage();
  }

  /** Call right after it; `timed` false for warm-ups. */
  endRep(timed: boolean): void {
    const d = process.cpuUsage(this.lap);
    if (timed) this.cpuSamples.push((d.user + d.system) / 1000);
  }

  finish(): Contention {
    const j1 = cpuJiffies();
    const own = process.cpuUsage(this.own0);
    let othersBusyPct: number | null = null;
    if (this.jiffies0 && j1 && j1.total > this.jiffies0.total) {
      const totalMs = (j1.total - this.jiffies0.total) * 10; // USER_HZ = 100
      const busyMs = totalMs - (j1.idle - this.jiffies0.idle) * 10;
      othersBusyPct = Math.max(0, (100 * (busyMs - (own.user + own.system) / 1000)) / totalMs);
    }
    return { cpu: summarize(this.cpuSamples), othersBusyPct };
  }
}

async function settle(out: tf.Tensor | tf.Tensor[]): Promise<void> {
  if (SYNC_BACKENDS.has(tf.getBackend())) return;
  const first = Array.isArray(out) ? out[0] : out;
  await first.data(); // async backends (webgpu): wait for the queue by reading the result back
}

/** Runs `op` warmups + reps times; each result is disposed; returns the timed samples. */
async function timeOp(op: () => tf.Tensor | tf.Tensor[], reps: number, warmups: number): Promise<{ stats: Stats; contention: Contention }> {
  const samples: number[] = [];
  const meter = new ContentionMeter();
  for (let i = 0; i < warmups + reps; i++) {
    meter.startRep();
    const t0 = performance.now();
    const out = op();
    await settle(out);
    const dt = performance.now() - t0;
    meter.endRep(i >= warmups);
    tf.dispose(out);
    if (i >= warmups) samples.push(dt);
  }
  sampleMemory();
  return { stats: summarize(samples), contention: meter.finish() };
}

// ---------------------------------------------------------------- op benchmarks

interface OpCase {
  op: string;
  shape: string;
  flops: number;
  inputs: () => tf.Tensor[];
  run: (inputs: tf.Tensor[]) => tf.Tensor;
}

function conv3x3Cases(n: number, hw: number, c: number): OpCase[] {
  const xShape: [number, number, number, number] = [n, hw, hw, c];
  const wShape: [number, number, number, number] = [3, 3, c, c];
  const flops = 2 * n * hw * hw * 9 * c * c;
  const shape = `[${n},${hw},${hw},${c}]->${c}`;
  const attrs = { strides: 1, pad: 'same', dataFormat: 'NHWC', dimRoundingMode: undefined };
  return [
    { op: 'conv2d 3x3 fwd', shape, flops, inputs: () => [tf.randomUniform(xShape, -1, 1, 'float32', 1), tf.randomUniform(wShape, -1, 1, 'float32', 2)], run: ([x, w]) => tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, 1, 'same') },
    {
      op: 'backprop filter',
      shape,
      flops,
      inputs: () => [tf.randomUniform(xShape, -1, 1, 'float32', 3), tf.randomUniform(xShape, -1, 1, 'float32', 4)],
      run: ([x, dy]) => tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, { ...attrs, filterShape: wShape } as unknown as tf.NamedAttrMap) as tf.Tensor,
    },
    {
      op: 'backprop input',
      shape,
      flops,
      inputs: () => [tf.randomUniform(xShape, -1, 1, 'float32', 5), tf.randomUniform(wShape, -1, 1, 'float32', 6)],
      run: ([dy, filter]) => tf.engine().runKernel('Conv2DBackpropInput', { dy, filter }, { ...attrs, inputShape: xShape } as unknown as tf.NamedAttrMap) as tf.Tensor,
    },
  ];
}

function upConvCase(n: number, hw: number, cin: number, cout: number): OpCase {
  return {
    op: 'up-conv 2x2/s2 fwd',
    shape: `[${n},${hw},${hw},${cin}]->[${2 * hw}²,${cout}]`,
    flops: 2 * n * hw * hw * 4 * cin * cout,
    inputs: () => [tf.randomUniform([n, hw, hw, cin], -1, 1, 'float32', 7), tf.randomUniform([2, 2, cout, cin], -1, 1, 'float32', 8)],
    run: ([x, w]) => tf.conv2dTranspose(x as tf.Tensor4D, w as tf.Tensor4D, [n, 2 * hw, 2 * hw, cout], 2, 'valid'),
  };
}

function matMulCases(size: number, batched: [number, number]): OpCase[] {
  const square = (seed: number) => () => [tf.randomUniform([size, size], -1, 1, 'float32', seed), tf.randomUniform([size, size], -1, 1, 'float32', seed + 1)];
  const flops = 2 * size ** 3;
  const [b, m] = batched;
  return [
    { op: 'matMul', shape: `${size}³`, flops, inputs: square(10), run: ([a, c]) => tf.matMul(a, c) },
    { op: 'matMul transposeA', shape: `${size}³`, flops, inputs: square(12), run: ([a, c]) => tf.matMul(a, c, true, false) },
    { op: 'matMul transposeB', shape: `${size}³`, flops, inputs: square(14), run: ([a, c]) => tf.matMul(a, c, false, true) },
    {
      op: 'matMul batched',
      shape: `[${b},${m},${m}]²`,
      flops: 2 * b * m ** 3,
      inputs: () => [tf.randomUniform([b, m, m], -1, 1, 'float32', 16), tf.randomUniform([b, m, m], -1, 1, 'float32', 17)],
      run: ([a, c]) => tf.matMul(a, c),
    },
    {
      op: 'matMul attention',
      shape: '[48,196,64]x[48,196,64]ᵀ',
      flops: 2 * 48 * 196 * 196 * 64,
      inputs: () => [tf.randomUniform([48, 196, 64], -1, 1, 'float32', 18), tf.randomUniform([48, 196, 64], -1, 1, 'float32', 19)],
      run: ([q, k]) => tf.matMul(q, k, false, true),
    },
  ];
}

function opCasesFor(label: BackendLabel): OpCase[] {
  if (label === 'cpu') return [...conv3x3Cases(1, 56, 32), ...matMulCases(256, [4, 128]).slice(0, 3)];
  return [...conv3x3Cases(8, 112, 32), ...conv3x3Cases(8, 56, 64), upConvCase(8, 56, 64, 32), ...matMulCases(1024, [8, 256])];
}

async function runOps(label: BackendLabel, opts: Options): Promise<OpResult[]> {
  const reps = label === 'cpu' ? Math.min(opts.reps, 3) : opts.quick ? Math.min(opts.reps, 3) : opts.reps;
  const warmups = label === 'cpu' ? 1 : 2;
  const results: OpResult[] = [];
  for (const c of opCasesFor(label)) {
    const inputs = c.inputs();
    const { stats, contention } = await timeOp(() => c.run(inputs), reps, warmups);
    tf.dispose(inputs);
    results.push({ op: c.op, shape: c.shape, flops: c.flops, stats, gflops: c.flops / (stats.medianMs * 1e6), contention });
  }
  return results;
}

// ---------------------------------------------------------------- models

/**
 * The U-Net ENGINE.md's figures were measured on (its bar: 674 ms/step on wasm-mt): base 16, 4 levels,
 * 2x(3x3 conv+ReLU) per block, 2x2 max-pool, 2x2/s2 transposed-conv up path, channel concat, 1x1
 * head, no BatchNorm; 482,033 parameters.
 */
class EngineBarUNet extends Module {
  private readonly enc: [Conv2d, Conv2d][];
  private readonly ups: ConvTranspose2d[];
  private readonly dec: [Conv2d, Conv2d][];
  private readonly head: Conv2d;

  constructor(seed: number, base = 16, levels = 4) {
    super();
    const rng = new Rng(seed);
    const widths = Array.from({ length: levels }, (_, i) => base * 2 ** i); // 16,32,64,128
    this.enc = widths.map((w, i) => [
      this.child(`enc${i}.0`, new Conv2d(i === 0 ? 3 : widths[i - 1], w, 3, rng)),
      this.child(`enc${i}.1`, new Conv2d(w, w, 3, rng)),
    ]);
    this.ups = widths.slice(0, -1).map((w, i) => this.child(`up${i}`, new ConvTranspose2d(widths[i + 1], w, 2, 2, rng)));
    this.dec = widths.slice(0, -1).map((w, i) => [this.child(`dec${i}.0`, new Conv2d(2 * w, w, 3, rng)), this.child(`dec${i}.1`, new Conv2d(w, w, 3, rng))]);
    this.head = this.child('head', new Conv2d(base, 1, 1, rng));
  }

  /** [B,H,W,3] -> logits [B,H,W,1] */
  forward(x: tf.Tensor4D): tf.Tensor4D {
    const skips: tf.Tensor4D[] = [];
    let h = x;
    this.enc.forEach(([a, b], i) => {
      if (i > 0) h = maxPool2x2(h);
      h = b.forward(a.forward(h, 'relu'), 'relu');
      skips.push(h);
    });
    for (let i = this.ups.length - 1; i >= 0; i--) {
      const up = this.ups[i].forward(h);
      const [a, b] = this.dec[i];
      h = b.forward(a.forward(tf.concat([skips[i], up], 3), 'relu'), 'relu');
    }
    return this.head.forward(h);
  }
}

function engineBarTarget(warmups: number, reps: number): StepTarget {
  const model = new EngineBarUNet(1);
  const { images, masks } = randomBatch(4, 128, 1);
  const optimizer = new Adam(model.namedParameters(), { lr: 1e-3 });
  const params = model.namedParameters();
  const nameOf = new Map(params.map(([n, v]) => [v.name, n]));
  return {
    model: 'engine-bar-unet',
    config: 'ENGINE.md plain U-Net, base 16, 4 levels, batch 4 @ 128², BCE-with-logits, Adam',
    params: model.parameterCount(),
    warmups,
    reps,
    forward: () => tf.tidy(() => model.forward(images)),
    step: () => {
      const { value, grads } = tf.variableGrads(() => tf.losses.sigmoidCrossEntropy(masks, model.forward(images)) as tf.Scalar, params.map(([, v]) => v));
      optimizer.step(Object.fromEntries(Object.entries(grads).map(([k, g]) => [nameOf.get(k)!, g])));
      const loss = value.dataSync()[0];
      tf.dispose([value, ...Object.values(grads)]);
      return loss;
    },
    dispose: () => {
      tf.dispose([images, masks]);
      optimizer.dispose();
      model.dispose();
    },
  };
}

function stepTargets(opts: Options): (() => StepTarget)[] {
  const warm = 2;
  const targets: (() => StepTarget)[] = [
    () => segmentationTarget('unet', 'official U-Net (baselines UNet), base 16, batch 4 @ 128², WeightedDiceBCE, Adam', new UNet({ inChannels: 3, baseChannels: 16, seed: 1 }), 4, 128, warm, opts.reps),
    () => engineBarTarget(warm, opts.reps),
  ];
  const quick = getProfile('quick');
  const transunet = { ...(quick.modelConfigs.transunet as Omit<TransUNetConfig, 'seed'>), imageSize: quick.data.monuseg.imageSize, seed: 1 };
  targets.push(() => segmentationTarget('transunet', 'quick profile: units (1,2,2), 4 layers, hidden 64, batch 4 @ 128²', new TransUNet(transunet), 4, 128, warm, opts.reps));
  if (listModels().includes('lvit-t')) {
    targets.push(() =>
      segmentationTarget('lvit-t', 'quick profile: base 16, token grid 8, batch 4 @ 128²', createModel('lvit-t', { baseChannels: 16, tokenGrid: 8, imageSize: 128, seed: 1 }), 4, 128, warm, opts.reps),
    );
  }
  return targets;
}

/** Multiply-adds of one kernel call from its shapes (conv, transposed conv, matMul); 0 for others. */
function kernelMacs(k: { name: string; inputShapes: number[][]; outputShapes: number[][] }): number {
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

interface ProfileResult {
  forwardGflop: number;
  topKernels?: StepResult['topKernels'];
}

async function profileForward(target: StepTarget, withStep: boolean): Promise<ProfileResult> {
  const fwd = await tf.profile(() => target.forward());
  tf.dispose(fwd.result as tf.Tensor);
  const macs = fwd.kernels.reduce((s, k) => s + kernelMacs(k as unknown as Parameters<typeof kernelMacs>[0]), 0);
  const result: ProfileResult = { forwardGflop: (2 * macs) / 1e9 };
  if (withStep) {
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

async function runStep(make: () => StepTarget, opts: Options, log: (m: string) => void): Promise<StepResult> {
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
      forwardGflop: profile.forwardGflop,
      warmups: target.warmups,
      stats,
      firstStepMs,
      loss: { first: losses[0], last: losses[losses.length - 1] },
      tensors: { before: tensorsBefore, after: tf.memory().numTensors },
      effectiveGflops: (3 * profile.forwardGflop) / (stats.medianMs / 1000),
      contention: meter.finish(),
      topKernels: profile.topKernels,
    };
  } finally {
    target.dispose();
  }
}

// ---------------------------------------------------------------- PyTorch side by side

/** ENGINE.md §9: official LViT, batch 2 @ 224, PyTorch 1.13 + OpenBLAS on this 2-core CPU (not same-minute). */
const TORCH_LVIT_FULL_B2_MS = 1910;

// ---------------------------------------------------------------- full-size runs in a child process

/**
 * Full-size LViT runs in a child process: at batch 2 @ 224 its training step needs more than the
 * 4 GB a wasm32 heap can hold, and an Emscripten abort (or a stall near the limit) leaves that
 * backend unusable. The child reports its step or its failure.
 */
async function runChild(label: BackendLabel, batch: number, opts: Options, log: (m: string) => void): Promise<{ step?: StepResult; failure?: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'lvit-bench-child-'));
  const out = join(dir, 'step.json');
  const args = [...process.execArgv, process.argv[1], '--backend', label, '--child-step', `lvit-full:${batch}`, '--reps', String(Math.min(opts.reps, 3)), '--json', out];
  if (opts.threads !== undefined) args.push('--threads', String(opts.threads));
  if (opts.profile) args.push('--profile');
  log(`[bench] ${label}: full-size LViT-T, batch ${batch} @ 224, in a child process`);
  const tail: string[] = [];
  const code = await new Promise<number | null>((resolve) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
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
    if (code === 0) return { step: JSON.parse(readFileSync(out, 'utf8')) as StepResult };
    const reason = tail.filter((l) => /\[bench\] child failed|Error|Aborted/.test(l)).pop() ?? `exit code ${code}`;
    return { failure: reason.replace(/^\[bench\] child failed: /, '') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const WASM32_HEAP_MB = 4096;
/** A child still running after this long is stopped (a wasm heap at its 4 GB limit can stall instead of aborting). */
const CHILD_TIMEOUT_MS = 15 * 60_000;

/**
 * Batch 2 is the official setting. On wasm, batch 1 runs first: its measured heap peak tells
 * whether batch 2 (about twice the activations) can fit in the 4 GB wasm32 heap at all.
 */
async function fullSizeSteps(label: BackendLabel, opts: Options, report: BackendReport, log: (m: string) => void): Promise<void> {
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
    const { step, failure } = await runChild(label, batch, opts, log);
    if (step) results.set(batch, step);
    else report.notes.push(`full-size LViT-T batch ${batch} @ 224 failed: ${failure}`);
  }
  report.steps.push(...[...results.entries()].sort((a, b) => b[0] - a[0]).map(([, step]) => step));
}

/** Child mode: one full-size step target on one backend; writes the StepResult to --json. */
async function childMain(opts: Options, log: (m: string) => void): Promise<void> {
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

// ---------------------------------------------------------------- backends

function requestFor(label: BackendLabel, threads: number | undefined): { req: BackendRequest; threads?: number } {
  switch (label) {
    case 'wasm-mt':
      return { req: 'wasm', threads };
    case 'wasm-1t':
      return { req: 'wasm', threads: 1 };
    default:
      return { req: label, threads };
  }
}

async function benchBackend(label: BackendLabel, opts: Options, log: (m: string) => void): Promise<BackendReport> {
  memoryPeak.rssMB = 0;
  memoryPeak.heapUsedMB = 0;
  memoryPeak.wasmHeapMB = null;
  const report: BackendReport = { label, info: null, ops: [], steps: [], notes: [], memory: memoryPeak };
  const { req, threads } = requestFor(label, opts.threads);
  try {
    report.info = await initBackend(req, { threads, log });
  } catch (e) {
    report.unavailable = e instanceof Error ? e.message : String(e);
    log(`[bench] ${label}: unavailable: ${report.unavailable}`);
    return report;
  }
  if (label === 'wasm-mt' && !report.info.detail.includes('threaded')) {
    report.unavailable = `threaded wasm did not load (${report.info.detail}); see skipped: ${JSON.stringify(report.info.skipped)}`;
    return report;
  }
  log(`[bench] ${label}: ${report.info.detail}`);
  report.ops = await runOps(label, opts);
  if (label === 'cpu') {
    report.notes.push('cpu: small conv/matMul shapes only; a U-Net step takes ~25 s here (ENGINE.md §2)');
  } else {
    for (const make of stepTargets(opts)) report.steps.push(await runStep(make, opts, log));
    if (opts.torch) {
      report.torch = await withTarget(stepTargets(opts)[0], (t) => sideBySide(t, unetTorchRound, opts.reps, log));
      if (label === 'onnxruntime') report.torchTransunet = await withTarget(() => fullTransunetTarget(opts.reps), (t) => sideBySide(t, transunetTorchRound(128, 2), opts.reps, log));
    }
    if (!opts.quick && listModels().includes('lvit-t')) await fullSizeSteps(label, opts, report, log);
  }
  report.memory = { ...memoryPeak };
  return report;
}

// ---------------------------------------------------------------- output

function pct(v: number | null): string {
  return v === null ? '-' : `${v.toFixed(0)}%`;
}

function table(rows: string[][]): string {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  return rows.map((r) => r.map((cell, c) => (c === 0 || c === 1 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  ')).join('\n');
}

function printReport(reports: BackendReport[], opts: Options): void {
  const out: string[] = [];
  out.push(`lvit-bench engine bench: node ${process.version}, reps ${opts.reps}, GLIBC_TUNABLES ${process.env.GLIBC_TUNABLES ? 'set' : 'unset'}`);
  out.push('Times: median (min–max) ms. Timings on a shared machine are noisy.');
  for (const r of reports) {
    out.push('');
    if (!r.info || r.unavailable) {
      out.push(`== ${r.label}: unavailable: ${r.unavailable}`);
      continue;
    }
    out.push(`== ${r.label}: ${r.info.detail} on ${r.info.device}`);
    if (r.ops.length > 0) {
      out.push(table([['op', 'shape', 'ms', 'GFLOPS', 'cpu ms', 'others'], ...r.ops.map((o) => [o.op, o.shape, ms(o.stats), o.gflops.toFixed(1), o.contention.cpu.medianMs.toFixed(1), pct(o.contention.othersBusyPct)])]));
    }
    if (r.steps.length > 0) {
      out.push('');
      out.push(
        table([
          ['train step', 'config', 'params', 'fwd GFLOP', 'ms/step', 'first', 'GFLOPS*', 'cpu ms', 'others', 'loss first→last', 'tensors'],
          ...r.steps.map((s) => [
            s.model,
            s.config,
            s.params.toLocaleString('en-US'),
            s.forwardGflop.toFixed(2),
            ms(s.stats),
            s.firstStepMs.toFixed(0),
            s.effectiveGflops.toFixed(1),
            s.contention.cpu.medianMs.toFixed(0),
            pct(s.contention.othersBusyPct),
            `${s.loss.first.toFixed(3)}→${s.loss.last.toFixed(3)}`,
            `${s.tensors.before}→${s.tensors.after}`,
          ]),
        ]),
      );
      out.push('  * effective GFLOPS = 3 x forward FLOPs / median step time. cpu ms: this process\'s CPU time per step (all threads);');
      out.push('    others: share of the machine used by other processes meanwhile (high = the wall times are inflated).');
      const bar = r.steps.find((s) => s.model === 'engine-bar-unet');
      if (bar && r.label === 'wasm-mt') {
        out.push(`  ENGINE.md bar (wasm-mt, 2 threads, same net): ${ENGINE_BAR_MS} ms/step; here ${bar.stats.medianMs.toFixed(0)} ms (${(bar.stats.medianMs / ENGINE_BAR_MS).toFixed(2)}x)`);
      }
      for (const s of r.steps.filter((x) => x.memory)) {
        const m = s.memory!;
        out.push(`  ${s.model} (${s.config}) ran in a child process: peak RSS ${m.rssMB.toFixed(0)} MB, wasm heap ${m.wasmHeapMB === null ? '-' : `${m.wasmHeapMB.toFixed(0)} MB`}`);
      }
      for (const s of r.steps.filter((x) => x.topKernels)) {
        out.push(`  top kernels, ${s.model} (${s.config}): ${s.topKernels!.map((k) => `${k.kernel} ${(100 * k.share).toFixed(1)}%`).join(', ')}`);
      }
    }
    out.push(...torchReportLines(r));
    for (const note of r.notes) out.push(`  note: ${note}`);
    const m = r.memory;
    out.push(`  peak memory: RSS ${m.rssMB.toFixed(0)} MB, JS heap ${m.heapUsedMB.toFixed(0)} MB${m.wasmHeapMB !== null ? `, wasm heap ${m.wasmHeapMB.toFixed(0)} MB` : ''}`);
  }
  process.stdout.write(out.join('\n') + '\n');
}

/** The side-by-side lines, and full LViT-T against ENGINE.md's PyTorch figure. */
function torchReportLines(r: BackendReport): string[] {
  const lines = [r.torch, r.torchTransunet].filter((t): t is TorchSideBySide => t !== undefined).flatMap(torchLines);
  const fullLvit = r.steps.find((s) => s.model === 'lvit-t' && s.config.includes('batch 2 @ 224'));
  if (fullLvit && r.torch && !('unavailable' in r.torch)) {
    const ratio = fullLvit.stats.medianMs / TORCH_LVIT_FULL_B2_MS;
    lines.push(`    full LViT-T batch 2 @ 224: ${fullLvit.stats.medianMs.toFixed(0)} ms vs the official model's ${TORCH_LVIT_FULL_B2_MS} ms in PyTorch (ENGINE.md §9, not the same minute): ${ratio.toFixed(2)}x (goal 1.5x)`);
  }
  return lines;
}

async function main(argv: string[]): Promise<void> {
  const opts = parseOptions(argv);
  if (!opts) {
    process.stdout.write(USAGE + '\n');
    return;
  }
  const log = (m: string) => process.stderr.write(`${m}\n`);
  if (opts.childStep) return childMain(opts, log);
  const startedAt = new Date().toISOString();
  const reports: BackendReport[] = [];
  for (const label of opts.backends) reports.push(await benchBackend(label, opts, log));
  shutdownBackend();
  printReport(reports, opts);
  if (opts.json) {
    writeJsonAtomic(opts.json, {
      schema: 'lvit-bench/bench@1',
      startedAt,
      finishedAt: new Date().toISOString(),
      node: process.version,
      glibcTunables: process.env.GLIBC_TUNABLES ?? null,
      options: opts,
      engineBarMs: ENGINE_BAR_MS,
      peakRssMB: process.resourceUsage().maxRSS / 1024,
      backends: reports,
    });
    log(`[bench] wrote ${opts.json}`);
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  ensureGlibcTunables();
  main(process.argv.slice(2)).then(
    () => process.exit(0),
    (err) => {
      const message = err instanceof Error ? err.message : String(err);
      console.error(message.startsWith('[bench]') ? message : `[bench] ${message}`);
      process.exit(1);
    },
  );
}
