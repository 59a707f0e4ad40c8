/**
 * `node scripts/dist/gpu/pack-data.js --out DIR`: the data the GPU checks' paper-profile run needs,
 * small enough to carry (scripts/gpu/README.md). The raw MoNuSeg PNGs (77 MB) are over the device's
 * upload limit, so this writes
 *   DIR/cache/prepared/monuseg-…-224px-….lvitds   the prepared file (decoded and resized, ~7 MB), and
 *   DIR/root/monuseg/                              the data root's listing: MANIFEST.sha256, text.csv
 *                                                  and an EMPTY file per image and mask,
 * then checks that the suite's loader, given that root, reads the prepared file without decoding.
 * The loader keys its cache on the manifest, and on a hit it lists the files but reads none; should
 * the key ever miss, the empty PNGs fail their manifest hashes, naming the file.
 */
import { copyFileSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { loadDataset, resolveDataRoot } from '@lvit-bench/datasets';
import { paperProfile } from '../configs/profiles.js';
import { datasetLoadOptions } from '../lib/reproduce.js';
import { parseFlags, stringFlag } from '../lib/args.js';

const DATASET = 'monuseg';
const LISTED_FOLDERS = ['train/images', 'train/masks', 'val/images', 'val/masks', 'test/images', 'test/masks'];
const LISTING_FILES = ['MANIFEST.sha256', 'text.csv'];

/** The data root's folder structure with empty files, and the two files the listing reads. */
function writeListing(source: string, target: string): number {
  let files = 0;
  for (const name of LISTING_FILES) {
    mkdirSync(target, { recursive: true });
    copyFileSync(join(source, name), join(target, name));
  }
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

export async function packData(out: string, dataRootFlag?: string): Promise<{ prepared: string; listedFiles: number }> {
  const cacheDir = join(out, 'cache');
  const source = resolveDataRoot(dataRootFlag);
  const full = await loadDataset(datasetLoadOptions(paperProfile, DATASET, source, cacheDir));
  const skeleton = join(out, 'root');
  const listedFiles = writeListing(join(source, DATASET), join(skeleton, DATASET));
  const check = await loadDataset(datasetLoadOptions(paperProfile, DATASET, skeleton, cacheDir));
  if (!check.cache?.hit || check.cache.path !== full.cache?.path) {
    throw new Error(`pack-data: the listing in ${skeleton} does not find the prepared file ${full.cache?.path} (got ${check.cache?.path ?? 'no cache'})`);
  }
  return { prepared: check.cache.path, listedFiles };
}

async function main(): Promise<void> {
  const flags = parseFlags(process.argv.slice(2), { out: 'string', 'data-root': 'string' } as const);
  const out = stringFlag(flags, 'out');
  if (!out) throw new Error('usage: node scripts/dist/gpu/pack-data.js --out DIR [--data-root DIR]');
  const { prepared, listedFiles } = await packData(out, stringFlag(flags, 'data-root'));
  console.log(`[pack-data] ${DATASET} at ${paperProfile.data[DATASET].imageSize}px: ${prepared}; listing of ${listedFiles} empty files in ${join(out, 'root')}`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().catch((e) => {
    console.error(`[pack-data] ${e instanceof Error ? e.message : String(e)}`);
    process.exit(1);
  });
}
