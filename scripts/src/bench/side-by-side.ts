/**
 * The PyTorch side-by-side comparisons (SIDE_BY_SIDE in options.ts), each in a child process of its
 * own (`bench.js --child-side-by-side NAME`), so the suite's peak RSS is that step's alone and sits
 * next to torch's (bench/torch.ts runs the reference scripts under a peak-RSS wrapper).
 */
import { initBackend, listModels, writeJsonAtomic } from '@lvit-bench/core';
import { requestFor, SIDE_BY_SIDE, type BackendLabel, type Options, type SideBySideName } from './options.js';
import { runChild } from './steps.js';
import { fullSizeTarget, fullTransunetTarget, officialUnetTarget, withTarget, type StepTarget } from './targets.js';
import { lvitTorchRound, sideBySide, transunetTorchRound, unetTorchRound, type TorchRound, type TorchSideBySide } from './torch.js';

export type SideBySideResult = TorchSideBySide & { name: SideBySideName };

interface SideBySideCase {
  /** What is compared (the report's text where the comparison did not run). */
  config: string;
  target: (reps: number) => StepTarget;
  torchRound: TorchRound;
  /** Full-size, as `--child-step`: min(reps, 3) steps per round (after TORCH_WARMUPS warm-ups, as torch), losses read asynchronously. */
  fullSize: boolean;
}

const CASES: Record<SideBySideName, SideBySideCase> = {
  unet16: { config: 'official U-Net, base 16, batch 4 @ 128²', target: (reps) => officialUnetTarget(2, reps), torchRound: unetTorchRound(16, 128, 4), fullSize: false },
  'unet-full': { config: 'official U-Net full width (base 64), batch 2 @ 224²', target: (reps) => fullSizeTarget({ model: 'unet-full', batch: 2 }, reps), torchRound: unetTorchRound(64, 224, 2), fullSize: true },
  'lvit-full': { config: 'official LViT-T full size, batch 2 @ 224²', target: (reps) => fullSizeTarget({ model: 'lvit-full', batch: 2 }, reps), torchRound: lvitTorchRound(224, 2), fullSize: true },
  transunet: { config: 'TransUNet R50-ViT-B/16, batch 2 @ 128²', target: (reps) => fullTransunetTarget(reps), torchRound: transunetTorchRound(128, 2), fullSize: false },
};

/** The comparisons of a whole bench run (no --side-by-side): unet16 on every non-cpu backend, all on onnxruntime (lvit-full not with --quick). */
export function defaultSideBySides(label: BackendLabel, quick: boolean): SideBySideName[] {
  if (label === 'cpu') return [];
  if (label !== 'onnxruntime') return ['unet16'];
  return SIDE_BY_SIDE.filter((name) => name !== 'lvit-full' || (!quick && listModels().includes('lvit-t')));
}

/** One comparison in a child process on `label`. */
export async function runSideBySide(label: BackendLabel, name: SideBySideName, opts: Options, log: (m: string) => void): Promise<SideBySideResult> {
  const c = CASES[name];
  const reps = c.fullSize ? Math.min(opts.reps, 3) : opts.reps;
  log(`[bench] ${label}: PyTorch side by side, ${c.config}, in a child process`);
  const { result, failure } = await runChild<SideBySideResult>(label, ['--child-side-by-side', name, '--reps', String(reps)], opts, log);
  return result ?? { name, config: `${name}: ${c.config}`, unavailable: `not run: the child process failed (${failure})` };
}

/** Child mode: one comparison on one backend; writes it, with this process's peak RSS as the suite's, to --json. */
export async function childSideBySideMain(opts: Options, log: (m: string) => void): Promise<void> {
  const name = opts.childSideBySide!;
  const c = CASES[name];
  const { req, threads } = requestFor(opts.backends[0], opts.threads);
  await initBackend(req, { threads, log: () => {}, asyncReads: c.fullSize });
  const oursPeakRssMB = () => process.resourceUsage().maxRSS / 1024; // maxRSS is in KB
  const result = await withTarget(() => c.target(opts.reps), (t) => sideBySide({ ...t, config: `${name}: ${t.config}` }, c.torchRound, opts.reps, log, oursPeakRssMB));
  if (opts.json) writeJsonAtomic(opts.json, { name, ...result } satisfies SideBySideResult);
}
