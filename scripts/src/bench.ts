/**
 * Training-engine benchmark: `node scripts/dist/bench.js [--backend wasm-mt,wasm-1t,onnxruntime,cpu]
 * [--reps 5] [--quick] [--json out.json] [--profile] [--side-by-side [unet16,unet-full,lvit-full,transunet]]`
 * (or `turbo run bench -- ...`).
 *
 * Per backend it measures (ENGINE.md §0/§1.4 shapes):
 * - conv2d 3x3 forward, Conv2DBackpropFilter and Conv2DBackpropInput at [8,112,112,32]->32 and
 *   [8,56,56,64]->64, the 2x2/s2 up-conv, and matMul 1024 plain / transposed / batched, in GFLOPS;
 * - the train step of the official U-Net (baselines `UNet`, base 16, batch 4 @ 128², Adam, core
 *   `trainStep`) and, for ENGINE.md's bar (674 ms on wasm-mt, 2 threads), the same plain U-Net it
 *   was measured on (482,033 parameters, BCE-with-logits);
 * - TransUNet at the quick-profile config;
 * - LViT-T (if registered) at the quick-profile size and, unless --quick, at full size batch 2 @ 224;
 * - side by side with the official models in PyTorch (shared/tools/torch-reference/), interleaved in
 *   rounds, each in a child process with both sides' peak RSS (bench/side-by-side.ts): the official
 *   U-Net base 16 on every backend and, on onnxruntime, the official U-Net full width (base 64) and
 *   LViT-T (unless --quick) at batch 2 @ 224², and TransUNet R50-ViT-B/16 at batch 2 @ 128²;
 *   `--side-by-side [LIST]` runs only these;
 * - peak RSS, JS heap and wasm heap.
 * Step times are median (min-max) over --reps runs after 2 warm-ups. The cpu backend only gets small
 * conv/matMul numbers (a U-Net step takes ~25 s there).
 */
import { ensureGlibcTunables, shutdownBackend, writeJsonAtomic } from '@lvit-bench/core';
import { pathToFileURL } from 'node:url';
import { benchBackend, type BackendReport } from './bench/backend.js';
import { parseOptions, USAGE } from './bench/options.js';
import { printReport } from './bench/print.js';
import { childSideBySideMain } from './bench/side-by-side.js';
import { childMain } from './bench/steps.js';
import { ENGINE_BAR_MS } from './bench/targets.js';

async function main(argv: string[]): Promise<void> {
  const opts = parseOptions(argv);
  if (!opts) {
    process.stdout.write(USAGE + '\n');
    return;
  }
  const log = (m: string) => process.stderr.write(`${m}\n`);
  if (opts.childStep) return childMain(opts, log);
  if (opts.childSideBySide) return childSideBySideMain(opts, log);
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