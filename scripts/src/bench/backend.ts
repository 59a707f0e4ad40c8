/** One backend's bench run (bench.ts): op GFLOPS, train steps, the PyTorch side by side, full-size LViT-T. */
import { initBackend, listModels, type BackendInfo } from '@lvit-bench/core';
import { memoryPeak, resetMemoryPeak, type MemoryPeak } from './contention.js';
import { runOps, type OpResult } from './ops.js';
import { requestFor, type BackendLabel, type Options } from './options.js';
import { fullSizeSteps, runStep, type StepResult } from './steps.js';
import { fullTransunetTarget, suiteStepTargets, withTarget } from './targets.js';
import { sideBySide, transunetTorchRound, unetTorchRound, type TorchSideBySide } from './torch.js';

export interface BackendReport {
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

export async function benchBackend(label: BackendLabel, opts: Options, log: (m: string) => void): Promise<BackendReport> {
  resetMemoryPeak();
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
    for (const make of suiteStepTargets(opts.reps)) report.steps.push(await runStep(make, opts, log));
    if (opts.torch) {
      report.torch = await withTarget(suiteStepTargets(opts.reps)[0], (t) => sideBySide(t, unetTorchRound, opts.reps, log));
      if (label === 'onnxruntime') report.torchTransunet = await withTarget(() => fullTransunetTarget(opts.reps), (t) => sideBySide(t, transunetTorchRound(128, 2), opts.reps, log));
    }
    if (!opts.quick && listModels().includes('lvit-t')) await fullSizeSteps(label, opts, report, log);
  }
  report.memory = { ...memoryPeak };
  return report;
}
