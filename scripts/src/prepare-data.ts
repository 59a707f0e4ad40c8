/**
 * `node scripts/dist/prepare-data.js --dataset monuseg|qata [flags]`: decode + resize a dataset once
 * exactly as LViT does, cache it under <cache-dir>/prepared, and print a summary (counts, manifest
 * hash, mask foreground per split, notes). Later runs of the suite read the cached file.
 */
import { resolve } from 'node:path';
import { loadDataset, type LoadDatasetOptions, type PreparedDataset } from '@lvit-bench/datasets';
import { parseFlags, stringFlag } from './lib/args.js';

const FLAGS = {
  dataset: 'string',
  size: 'string',
  layout: 'string',
  'data-root': 'string',
  'cache-dir': 'string',
  'channel-order': 'string',
  'limit-train': 'string',
  'limit-val': 'string',
  'limit-test': 'string',
  'limit-seed': 'string',
  'qata-test-text': 'string',
  'strict-masks': 'boolean',
  help: 'boolean',
} as const;

const USAGE = `Usage: node scripts/dist/prepare-data.js --dataset monuseg|qata [flags]
  --size N               model input size (default 224, LViT's)
  --layout staged|lvit|auto   staged = shared/data; lvit = official {Train,Val,Test}_Folder layout;
                         auto (default) = whichever of the two the data root holds
  --data-root DIR        data root (env LVIT_DATA_ROOT; default: nearest shared/data above the repo)
  --cache-dir DIR        cache folder (env LVIT_CACHE_DIR; default <repo>/.cache)
  --channel-order bgr|rgb  default bgr (cv2.imread, as LViT)
  --limit-train N, --limit-val N, --limit-test N   seeded subsets (reduced profiles)
  --limit-seed S         seed of those subsets (default 666)
  --qata-test-text sgseg|lvit   QaTa test text style (default sgseg, same style as the train text)
  --strict-masks         a mask that is not two-level (blurred, anti-aliased, JPEG) is an error, not a warning`;

function intFlag(flags: ReturnType<typeof parseFlags>, name: string): number | undefined {
  const v = stringFlag(flags, name);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n)) throw new Error(`--${name} must be an integer, got '${v}'`);
  return n;
}

function oneOf<T extends string>(flags: ReturnType<typeof parseFlags>, name: string, allowed: readonly T[]): T | undefined {
  const v = stringFlag(flags, name);
  if (v !== undefined && !allowed.includes(v as T)) throw new Error(`--${name} must be one of ${allowed.join(', ')}, got '${v}'`);
  return v as T | undefined;
}

function foregroundFraction(split: PreparedDataset['train']): number {
  let sum = 0;
  for (let i = 0; i < split.size; i++) {
    const m = split.sample(i).mask;
    let fg = 0;
    for (let p = 0; p < m.length; p++) fg += m[p];
    sum += fg / m.length;
  }
  return split.size > 0 ? sum / split.size : 0;
}

async function main(): Promise<void> {
  const flags = parseFlags(process.argv.slice(2), FLAGS);
  if (flags.help) {
    console.log(USAGE);
    return;
  }
  const dataset = oneOf(flags, 'dataset', ['monuseg', 'qata'] as const);
  if (dataset === undefined) throw new Error(`--dataset is required\n${USAGE}`);
  const limits = { train: intFlag(flags, 'limit-train'), val: intFlag(flags, 'limit-val'), test: intFlag(flags, 'limit-test') };
  const hasLimits = Object.values(limits).some((v) => v !== undefined);
  const log = (msg: string) => console.log(`[prepare-data] ${msg}`);
  let lastReport = 0;
  const opts: LoadDatasetOptions = {
    dataset,
    imageSize: intFlag(flags, 'size') ?? 224,
    layout: oneOf(flags, 'layout', ['staged', 'lvit', 'auto'] as const),
    strictMasks: flags['strict-masks'] === true,
    root: stringFlag(flags, 'data-root') ? resolve(stringFlag(flags, 'data-root')!) : undefined,
    cacheDir: stringFlag(flags, 'cache-dir') ? resolve(stringFlag(flags, 'cache-dir')!) : undefined,
    channelOrder: oneOf(flags, 'channel-order', ['bgr', 'rgb'] as const),
    limits: hasLimits ? limits : undefined,
    limitSeed: intFlag(flags, 'limit-seed'),
    qataTestText: oneOf(flags, 'qata-test-text', ['sgseg', 'lvit'] as const),
    onProgress: (done, total, what) => {
      const now = Date.now();
      if (done === total || now - lastReport > 2000) {
        lastReport = now;
        process.stderr.write(`[prepare-data] ${done}/${total} ${what}\n`);
      }
    },
  };
  const t0 = Date.now();
  const ds = await loadDataset(opts);
  const seconds = ((Date.now() - t0) / 1000).toFixed(1);
  log(`${ds.name}: ${ds.settings.layout} layout, ${ds.cache?.hit ? 'read from cache' : 'prepared'} in ${seconds} s -> ${ds.cache?.path ?? '(not cached)'}`);
  log(`size ${ds.train.height}x${ds.train.width}x${ds.train.channels}, manifest sha256 ${ds.manifestHash}`);
  for (const split of [ds.train, ds.val, ds.test]) {
    log(`${split.split.padEnd(5)} ${String(split.size).padStart(5)} images, mean mask foreground ${foregroundFraction(split).toFixed(3)}`);
  }
  for (const note of ds.notes) log(`note: ${note}`);
  for (const warning of ds.warnings) log(`warning: ${warning}`);
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(`[prepare-data] ${err instanceof Error ? err.message : err}`);
    process.exit(1);
  },
);
