/**
 * `node scripts/dist/gpu/pack-data.js --out DIR`: the data the GPU checks' paper-profile run needs,
 * small enough to carry (scripts/gpu/README.md). The raw MoNuSeg PNGs (77 MB) are over the device's
 * upload limit, so this writes
 *   DIR/cache/prepared/monuseg-…-224px-….lvitds   the prepared file (decoded and resized, ~7 MB), and
 *   DIR/root/monuseg/                              the data root's listing: MANIFEST.sha256, text.csv
 *                                                  and an EMPTY file per image and mask.
 * The loader keys its cache on the manifest, and on a hit it lists the files but reads none. Both
 * are made, and then checked, by the suite's own `reproduce` on the paper profile: once on the real
 * data root, then on the listing, stopped as soon as training starts (the data then came from the
 * prepared file: the empty PNGs would have failed their manifest hashes, naming the file).
 */
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { resolveDataRoot } from '@lvit-bench/datasets';
import { parseFlags, stringFlag } from '../lib/args.js';
import { runChild } from './child.js';

const DATASET = 'monuseg';
const LISTED_FOLDERS = ['train/images', 'train/masks', 'val/images', 'val/masks', 'test/images', 'test/masks'];
const LISTING_FILES = ['MANIFEST.sha256', 'text.csv'];
const REPRODUCE = join(dirname(fileURLToPath(import.meta.url)), '..', 'reproduce.js');
/** What checks.ts's paper check runs, on the cpu backend here. */
const PAPER_RUN = ['--profile', 'paper', '--models', 'unet', '--datasets', DATASET, '--fractions', '100', '--seeds', '666', '--backend', 'cpu', '--no-report'];

/** The data root's folder structure with empty files, and the two files the listing reads. */
function writeListing(source: string, target: string): number {
  let files = 0;
  mkdirSync(target, { recursive: true });
  for (const name of LISTING_FILES) copyFileSync(join(source, name), join(target, name));
  for (const folder of LISTED_FOLDERS) {
    mkdirSync(join(target, folder), { recursive: true });
    for (const entry of readdirSync(join(source, folder), { withFileTypes: true })) {
      if (!entry.isFile()) continue;
      writeFileSync(join(target, folder, entry.name), '');
      files++;
    }
  }
  return files;
}

/** Runs the paper profile's U-Net on `dataRoot` until it starts training; throws with its output otherwise. */
async function startPaperRun(dataRoot: string, cacheDir: string): Promise<void> {
  const runs = mkdtempSync(join(tmpdir(), 'lvit-pack-data-'));
  try {
    const lines: string[] = [];
    const o = await runChild(process.execPath, [REPRODUCE, ...PAPER_RUN, '--data-root', dataRoot, '--cache-dir', cacheDir, '--runs-dir', runs], {
      timeoutMs: 10 * 60_000,
      log: (l) => lines.push(l),
      stopWhen: (l) => l.includes(': training unet'),
    });
    if (!o.stopped) throw new Error(`reproduce on ${dataRoot} did not start training (exit ${o.code ?? o.signal}): ${[...o.stdout.trim().split('\n').slice(-3), ...lines.slice(-3)].join(' | ')}`);
  } finally {
    rmSync(runs, { recursive: true, force: true });
  }
}

export async function packData(out: string, dataRootFlag?: string): Promise<number> {
  const cacheDir = join(out, 'cache');
  const source = resolveDataRoot(dataRootFlag);
  await startPaperRun(source, cacheDir);
  const listedFiles = writeListing(join(source, DATASET), join(out, 'root', DATASET));
  await startPaperRun(join(out, 'root'), cacheDir);
  return listedFiles;
}

async function main(): Promise<void> {
  const flags = parseFlags(process.argv.slice(2), { out: 'string', 'data-root': 'string' } as const);
  const out = stringFlag(flags, 'out');
  if (!out) throw new Error('usage: node scripts/dist/gpu/pack-data.js --out DIR [--data-root DIR]');
  const listed = await packData(out, stringFlag(flags, 'data-root'));
  console.log(`[pack-data] ${DATASET} prepared in ${join(out, 'cache')}; listing of ${listed} empty files in ${join(out, 'root')}; the paper run starts training from them`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().catch((e) => {
    console.error(`[pack-data] ${e instanceof Error ? e.message : String(e)}`);
    process.exit(1);
  });
}
