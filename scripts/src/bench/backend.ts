/** One backend's bench run (bench.ts): op GFLOPS, train steps, the PyTorch side by side, full-size LViT-T; or, with --side-by-side, only the chosen comparisons. */
import { initBackend, listModels, type BackendInfo } from '@lvit-bench/core';
import { memoryPeak, resetMemoryPeak, type MemoryPeak } from './contention.js';
import { runOps, type OpResult } from './ops.js';
import { requestFor, type BackendLabel, type Options } from './options.js';
import { fullSizeSteps, runStep, type StepResult } from './steps.js';
import { defaultSideBySides, runSideBySide, type SideBySideResult } from './side-by-side.js';
import { suiteStepTargets } from './targets.js';

export interface BackendReport {
  label: BackendLabel;
  info: BackendInfo | null;
  unavailable?: string;
  ops: OpResult[];
  steps: StepResult[];
  notes: string[];
  memory: MemoryPeak;
  /** Steps next to the official models' in PyTorch (goals: U-Net 1.2x, LViT-T 1.5x), each with both peak RSS. */
  sideBySide: SideBySideResult[];
}

export async function benchBackend(label: BackendLabel, opts: Options, log: (m: string) => void): Promise<BackendReport> {
  resetMemoryPeak();
  const report: BackendReport = { label, info: null, ops: [], steps: [], notes: [], memory: memoryPeak, sideBySide: [] };
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
  if (opts.sideBySide) {
    if (label === 'cpu') report.notes.push('cpu: no side-by-side PyTorch steps (a U-Net step takes ~25 s here)');
    else for (const name of opts.sideBySide) report.sideBySide.push(await runSideBySide(label, name, opts, log));
    report.memory = { ...memoryPeak };
    return report;
  }
  report.ops = await runOps(label, opts);
  if (label === 'cpu') {
    report.notes.push('cpu: small conv/matMul shapes only; a U-Net step takes ~25 s here (ENGINE.md §2)');
  } else {
    for (const make of suiteStepTargets(opts.reps)) report.steps.push(await runStep(make, opts, log));
    if (opts.torch) for (const name of defaultSideBySides(label, opts.quick)) report.sideBySide.push(await runSideBySide(label, name, opts, log));
    if (!opts.quick && listModels().includes('lvit-t')) await fullSizeSteps(label, opts, report, log);
  }
  report.memory = { ...memoryPeak };
  return report;
}
