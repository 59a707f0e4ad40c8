/**
 * `loadDataset`: list a dataset (staged or official LViT layout), decode + resize every sample once
 * exactly as LViT does (LVIT.md §3.5), and cache the result as one self-contained binary file.
 * A later load with the same inputs and settings reads that file and decodes nothing.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { decodeImageBytes, decodeMaskBytes, type ChannelOrder } from './decode.js';
import { findDatasetSource, type DataLayout, type DatasetSource } from './layout.js';
import { listLViTLayout } from './lvit-layout.js';
import { inspectMaskLevels, notTwoLevelError, type MaskFinding } from './mask-levels.js';
import { resolveCacheDir, resolveDataRoot } from './paths.js';
import {
  datasetFromContent,
  packMaskBits,
  PREPARED_FORMAT,
  readPreparedFile,
  SPLIT_NAMES,
  writePreparedFile,
  type PreparedContent,
  type PreparedDataset,
  type SplitArrays,
  type SplitName,
} from './prepared.js';
import { resizeLinearU8, thresholdMask } from './resize.js';
import { byCodeUnit, limitSamples, sha256Hex, statKey, type DatasetName, type SourceListing, type SourceSample } from './sources.js';
import { listStagedMonuseg, listStagedQata, type QataTestText } from './staged.js';

/** Bump when decoding/resizing changes, so old prepared files are not reused. */
const PREPROCESS_VERSION = 1;
/** The seed LViT uses everywhere (Config.py); default for the reduced-profile subsets. */
export const DEFAULT_LIMIT_SEED = 666;
const DECODE_CONCURRENCY = 4;

export interface LoadDatasetOptions {
  dataset: DatasetName;
  /** Data root (staged: the folder with monuseg/ and qata/; lvit: the LViT dataset folder or its parent). Default: resolveDataRoot(). */
  root?: string;
  /** Which layout the root holds; default 'auto' (detected, see layout.ts). */
  layout?: DataLayout | 'auto';
  /** Square model input size (LViT: 224). */
  imageSize: number;
  cacheDir?: string;
  /** cv2 order (bgr, default) or rgb. */
  channelOrder?: ChannelOrder;
  /** Seeded subset per split for reduced profiles. */
  limits?: { train?: number; val?: number; test?: number };
  limitSeed?: number;
  /** QaTa test text: SGSeg-style captions (default, same style as train) or LViT's verbatim text.csv. */
  qataTestText?: QataTestText;
  /** false: decode every time and write no file. Default true. */
  useCache?: boolean;
  /** A mask that is not two-level (blurred, anti-aliased, JPEG) is an error naming the file, not a warning. Default false. */
  strictMasks?: boolean;
  onProgress?: (done: number, total: number, what: string) => void;
}

function listSources(opts: LoadDatasetOptions, source: DatasetSource): SourceListing {
  if (source.layout === 'lvit') return listLViTLayout(source.dir, opts.dataset);
  return opts.dataset === 'monuseg' ? listStagedMonuseg(source.dir) : listStagedQata(source.dir, opts.qataTestText ?? 'sgseg');
}

/** Hashes every file it reads; checks each against MANIFEST.sha256 when the folder has one. */
class FileReader {
  readonly hashes = new Map<string, string>();
  constructor(private readonly listing: SourceListing) {}

  get datasetDir(): string {
    return this.listing.datasetDir;
  }

  async read(path: string): Promise<Uint8Array> {
    let bytes: Uint8Array;
    try {
      bytes = await readFile(path);
    } catch (err) {
      throw new Error(`${path}: cannot read (${(err as Error).message})`);
    }
    const rel = relative(this.listing.datasetDir, path);
    const sha = sha256Hex(bytes);
    const manifest = this.listing.manifest;
    if (manifest !== undefined) {
      const expected = manifest.entries.get(rel);
      if (expected === undefined) throw new Error(`${path}: not listed in ${manifest.path}`);
      if (expected !== sha) throw new Error(`${path}: sha256 ${sha} does not match ${manifest.path} (${expected}); file changed or corrupt`);
    }
    this.hashes.set(rel, sha);
    return bytes;
  }

  /** sha256 of a `sha256sum`-style manifest of every file read, sorted by path. */
  contentHash(): string {
    const lines = [...this.hashes.entries()].sort((a, b) => byCodeUnit(a[0], b[0])).map(([rel, sha]) => `${sha}  ${rel}\n`);
    return sha256Hex(lines.join(''));
  }
}

/** One decoded sample, kept compact until the split is assembled (QaTa has 8k of them). */
interface PreparedSample {
  /** HWC uint8 in the chosen order: 1 channel when the image is grey (all channels equal), else 3. */
  image: Uint8Array;
  /** The mask ({0,1} per pixel) packed 8 pixels per byte, LSB first. */
  maskBits: Uint8Array;
  /** What its grey levels say, when they are not a clean {0, 255}. */
  maskFinding?: MaskFinding;
}

async function prepareSample(s: SourceSample, reader: FileReader, size: number, order: ChannelOrder, strictMasks: boolean): Promise<PreparedSample> {
  const [imageBytes, maskBytes] = [await reader.read(s.imagePath), await reader.read(s.maskPath)];
  const image = await decodeImageBytes(imageBytes, s.imagePath, order);
  const mask = await decodeMaskBytes(maskBytes, s.maskPath);
  if (image.width !== mask.width || image.height !== mask.height) {
    throw new Error(`${s.maskPath}: mask is ${mask.width}x${mask.height} but image ${s.imagePath} is ${image.width}x${image.height}`);
  }
  const maskFinding = inspectMaskLevels(mask.data, relative(reader.datasetDir, s.maskPath));
  if (strictMasks && maskFinding?.kind === 'not-two-level') throw notTwoLevelError(maskFinding, reader.datasetDir);
  const resized = resizeLinearU8(image, size, size).data;
  return {
    image: isGrey(resized) ? firstChannel(resized) : resized,
    maskBits: packMaskBits([thresholdMask(resizeLinearU8(mask, size, size).data)], size * size),
    maskFinding,
  };
}

/**
 * Run `task` over `items` with at most `limit` in flight, results in input order. On failure no
 * new items start, and the error of the earliest failing item is thrown (deterministic message).
 */
async function mapPool<T, R>(items: readonly T[], limit: number, task: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  const errors = new Map<number, unknown>();
  let next = 0;
  const worker = async () => {
    while (next < items.length && errors.size === 0) {
      const i = next++;
      try {
        results[i] = await task(items[i], i);
      } catch (err) {
        errors.set(i, err);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (errors.size > 0) throw errors.get(Math.min(...errors.keys()));
  return results;
}

function isGrey(bgr: Uint8Array): boolean {
  for (let i = 0; i < bgr.length; i += 3) if (bgr[i] !== bgr[i + 1] || bgr[i] !== bgr[i + 2]) return false;
  return true;
}

function firstChannel(hwc3: Uint8Array): Uint8Array {
  const out = new Uint8Array(hwc3.length / 3);
  for (let i = 0; i < out.length; i++) out[i] = hwc3[3 * i];
  return out;
}

/**
 * A split being filled sample by sample: grey images go straight into a 1-channel store and mask
 * bits into the packed array, so peak memory stays near the final file size (QaTa: 8k samples);
 * colour images are kept aside until the channel count of the whole dataset is known.
 */
class SplitBuilder {
  readonly grey: Uint8Array;
  readonly maskBits: Uint8Array;
  readonly colour = new Map<number, Uint8Array>();
  readonly maskFindings = new Map<number, MaskFinding>();

  constructor(
    readonly split: SplitName,
    readonly samples: SourceSample[],
    readonly size: number,
  ) {
    const pixels = size * size;
    this.grey = new Uint8Array(samples.length * pixels);
    this.maskBits = new Uint8Array(Math.ceil((samples.length * pixels) / 8));
  }

  put(k: number, p: PreparedSample): void {
    const pixels = this.size * this.size;
    if (p.image.length === pixels) this.grey.set(p.image, k * pixels);
    else this.colour.set(k, p.image);
    if (p.maskFinding !== undefined) this.maskFindings.set(k, p.maskFinding);
    for (let i = 0; i < pixels; i++) {
      if ((p.maskBits[i >> 3] >> (i & 7)) & 1) {
        const b = k * pixels + i;
        this.maskBits[b >> 3] |= 1 << (b & 7);
      }
    }
  }

  finish(storedChannels: 1 | 3): SplitArrays {
    const pixels = this.size * this.size;
    let images = this.grey;
    if (storedChannels === 3) {
      images = new Uint8Array(this.samples.length * pixels * 3);
      for (let k = 0; k < this.samples.length; k++) {
        const colour = this.colour.get(k);
        if (colour !== undefined) images.set(colour, k * pixels * 3);
        else for (let i = k * pixels; i < (k + 1) * pixels; i++) images.fill(this.grey[i], 3 * i, 3 * i + 3); // grey -> 3 equal channels
      }
    }
    const { split, samples, size } = this;
    const maskFindings = [...this.maskFindings.entries()].sort((a, b) => a[0] - b[0]).map(([, f]) => f); // sample order, not decode order
    return { split, ids: samples.map((s) => s.id), texts: samples.map((s) => s.text), height: size, width: size, storedChannels, images, maskBits: this.maskBits, maskFindings };
  }
}

async function prepareContent(
  opts: LoadDatasetOptions,
  listing: SourceListing,
  settings: Record<string, unknown>,
  notes: string[],
): Promise<PreparedContent> {
  const reader = new FileReader(listing);
  for (const aux of listing.auxFiles) await reader.read(aux);
  const order = opts.channelOrder ?? 'bgr';
  const total = SPLIT_NAMES.reduce((n, s) => n + listing.splits[s].length, 0);
  let done = 0;
  const builders = {} as Record<SplitName, SplitBuilder>;
  for (const split of SPLIT_NAMES) {
    const builder = (builders[split] = new SplitBuilder(split, listing.splits[split], opts.imageSize));
    await mapPool(listing.splits[split], DECODE_CONCURRENCY, async (s, k) => {
      builder.put(k, await prepareSample(s, reader, opts.imageSize, order, opts.strictMasks === true));
      opts.onProgress?.(++done, total, `${split}/${s.id}`);
    });
  }
  const storedChannels = SPLIT_NAMES.every((s) => builders[s].colour.size === 0) ? 1 : 3;
  const splits = {} as Record<SplitName, SplitArrays>;
  for (const split of SPLIT_NAMES) splits[split] = builders[split].finish(storedChannels);
  const manifestHash = listing.manifest !== undefined ? sha256Hex(listing.manifest.text) : reader.contentHash();
  return { name: opts.dataset, manifestHash, settings, notes, splits };
}

function validateOptions(opts: LoadDatasetOptions): void {
  if (opts.dataset !== 'monuseg' && opts.dataset !== 'qata') throw new Error(`unknown dataset "${String(opts.dataset)}" (monuseg, qata)`);
  if (!Number.isInteger(opts.imageSize) || opts.imageSize < 1) throw new Error(`imageSize must be a positive integer, got ${opts.imageSize}`);
  if (opts.channelOrder !== undefined && opts.channelOrder !== 'bgr' && opts.channelOrder !== 'rgb') {
    throw new Error(`channelOrder must be bgr or rgb, got "${String(opts.channelOrder)}"`);
  }
  if (opts.qataTestText !== undefined && opts.qataTestText !== 'sgseg' && opts.qataTestText !== 'lvit') {
    throw new Error(`qataTestText must be sgseg or lvit, got "${String(opts.qataTestText)}"`);
  }
}

/**
 * Load a dataset prepared at `imageSize` x `imageSize`, from the cache when possible.
 * Preprocessing = LViT's (LVIT.md §3.5): cv2.imread (3 channels, BGR) -> cv2.resize INTER_LINEAR ->
 * /255 on read; mask: grey -> INTER_LINEAR -> > 0. `manifestHash` is the sha256 of the dataset's
 * MANIFEST.sha256 (staged; equals the value printed in shared/data/README.md) or of a sha256sum-style
 * manifest of the files read (other folders).
 */
export async function loadDataset(opts: LoadDatasetOptions): Promise<PreparedDataset> {
  validateOptions(opts);
  const source = findDatasetSource(resolveDataRoot(opts.root), opts.dataset, opts.layout ?? 'auto');
  const { layout } = source;
  const full = listSources(opts, source);
  const limitSeed = opts.limitSeed ?? DEFAULT_LIMIT_SEED;
  const listing: SourceListing = {
    ...full,
    splits: {
      train: limitSamples(full.splits.train, opts.limits?.train, limitSeed, opts.dataset, 'train'),
      val: limitSamples(full.splits.val, opts.limits?.val, limitSeed, opts.dataset, 'val'),
      test: limitSamples(full.splits.test, opts.limits?.test, limitSeed, opts.dataset, 'test'),
    },
  };
  const count = (l: SourceListing) => ({ train: l.splits.train.length, val: l.splits.val.length, test: l.splits.test.length });
  const notes = [...full.notes];
  for (const split of SPLIT_NAMES) {
    const [kept, all] = [listing.splits[split].length, full.splits[split].length];
    if (kept < all) notes.push(`${split}: seeded subset of ${kept} of ${all} samples (limitSeed ${limitSeed}).`);
  }
  const settings: Record<string, unknown> = {
    dataset: opts.dataset,
    layout,
    imageSize: opts.imageSize,
    channelOrder: opts.channelOrder ?? 'bgr',
    limits: opts.limits ?? null,
    limitSeed,
    ...(opts.dataset === 'qata' ? { qataTestText: opts.qataTestText ?? 'sgseg' } : {}),
    preprocessing:
      'image: cv2.imread (3 channels) -> cv2.resize INTER_LINEAR (8-bit fixed point) -> /255; ' +
      'mask: cv2.imread grey -> cv2.resize INTER_LINEAR -> > 0',
    preprocessVersion: PREPROCESS_VERSION,
    sourceCounts: count(full),
    counts: count(listing),
  };

  if (opts.useCache === false) {
    return datasetFromContent(await prepareContent(opts, listing, settings, notes), undefined, listing.datasetDir);
  }
  const inputKey = listing.manifest !== undefined ? sha256Hex(listing.manifest.text) : statKey(listing);
  const key = sha256Hex(JSON.stringify({ format: PREPARED_FORMAT, inputKey, settings }));
  const cachePath = join(resolveCacheDir(opts.cacheDir), 'prepared', `${opts.dataset}-${layout}-${opts.imageSize}px-${key.slice(0, 16)}.lvitds`);
  let rebuildNote: string | undefined;
  let cached: PreparedContent | undefined;
  if (existsSync(cachePath)) {
    try {
      const content = readPreparedFile(cachePath);
      const total = SPLIT_NAMES.reduce((n, s) => n + content.splits[s].ids.length, 0);
      opts.onProgress?.(total, total, `cache ${cachePath}`);
      cached = content;
    } catch (err) {
      rebuildNote = `Prepared file was unreadable and has been rebuilt: ${(err as Error).message}`;
    }
  }
  if (cached !== undefined) {
    if (opts.strictMasks === true) {
      const finding = SPLIT_NAMES.flatMap((s) => cached.splits[s].maskFindings).find((f) => f.kind === 'not-two-level');
      if (finding !== undefined) throw notTwoLevelError(finding, listing.datasetDir);
    }
    // This listing's notes, not the stored ones: files the key does not cover (an ignored README.txt) may have changed.
    return datasetFromContent({ ...cached, notes }, { path: cachePath, hit: true }, listing.datasetDir);
  }
  const content = await prepareContent(opts, listing, settings, notes);
  writePreparedFile(cachePath, content);
  const dataset = datasetFromContent(content, { path: cachePath, hit: false }, listing.datasetDir);
  // The rebuild is news for this load only; the file itself does not carry it.
  return rebuildNote === undefined ? dataset : { ...dataset, notes: [...dataset.notes, rebuildNote] };
}
