/**
 * CLI: a finished run's best checkpoint as an ONNX inference file with its metadata.
 *   npx lvit export --run RUN_DIR [--out model.onnx]
 */
import { relative, resolve } from 'node:path';
import { initBackend } from '@lvit-bench/core';
import { resolveCacheDir } from '@lvit-bench/datasets';
import { parseFlags, stringFlag } from './lib/args.js';
import { exportRun, ONNX_FILE } from './lib/export-run.js';

const FLAGS = { run: 'string', out: 'string', 'cache-dir': 'string', help: 'boolean' } as const;

const USAGE = `Usage: npx lvit export --run RUN_DIR [--out FILE]
  --run DIR   a finished run folder (result.json and checkpoint/best), e.g. runs/quick/monuseg/unet/f100/s666
  --out FILE  where to write the model (default: RUN_DIR/${ONNX_FILE})
  --cache-dir DIR  text encoder and feature cache (LViT-T: its test sentences' features go next to the model)
The file holds the eval-mode forward (input i0 [1,H,W,C] NHWC, uint8/255, the training channel order;
LViT-T also i1 [1,T,D] text features; output o0 foreground probability [1,H,W,1]) and, in its
metadata_props, the model, config, normalisation, text encoder, run id, data manifest and commit.`;

async function main(argv: string[]): Promise<void> {
  const flags = parseFlags(argv, FLAGS);
  if (flags.help === true) {
    console.log(USAGE);
    return;
  }
  const run = stringFlag(flags, 'run');
  if (!run) throw new Error(`--run is required\n${USAGE}`);
  const out = stringFlag(flags, 'out');
  await initBackend('onnxruntime', { log: (m) => console.error(m) });
  const log = (m: string) => console.error(`[export] ${m}`);
  const outcome = await exportRun(resolve(run), out ? resolve(out) : undefined, { cacheDir: resolveCacheDir(stringFlag(flags, 'cache-dir')), log });
  const { info } = outcome;
  if (outcome.textFile) console.log(`[export] text features of the run's test sentences -> ${relative(process.cwd(), outcome.textFile)}`);
  console.log(
    `[export] ${info.runId} (${info.model}, best epoch ${info.checkpointEpoch ?? '?'}): ${outcome.kernels} kernel graphs, ${(outcome.bytes / 2 ** 20).toFixed(1)} MiB -> ${relative(process.cwd(), outcome.file)}`,
  );
}

main(process.argv.slice(2)).then(
  () => process.exit(0),
  (err) => {
    console.error(`[export] ${err instanceof Error ? err.message : err}`);
    process.exit(1);
  },
);
