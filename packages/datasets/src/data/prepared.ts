/**
 * Prepared (decoded + resized) splits held as compact uint8 arrays, and the self-contained binary
 * file they are cached in.
 *
 * File layout (little endian):
 *   "LVITDS01" | uint32 header byte length | header JSON (utf8) | zero padding to 8 bytes | data
 * The data section holds, per split in header order, the images (uint8, HWC, `storedChannels`
 * channels: 1 when every image of the dataset is grey, replicated to 3 on read) and the masks
 * (1 bit per pixel, LSB first). The header has ids, texts, shapes, byte ranges, the per-file mask
 * level findings (mask-levels.ts), settings, notes, the data manifest hash and a sha256 of the data
 * section, so a copied file is checked on read.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { writeAll, writeFileAtomicWith, type ImageSample, type SegSample, type SegSplit } from '@lvit-bench/core';
import { maskLevelMessages, type MaskFinding } from './mask-levels.js';

export type SplitName = 'train' | 'val' | 'test';
export const SPLIT_NAMES: readonly SplitName[] = ['train', 'val', 'test'];

const MAGIC = 'LVITDS01';
/** @2: splits carry `maskFindings`. */
export const PREPARED_FORMAT = 'lvit-bench/prepared@2';

/** A dataset ready for training and evaluation at one image size. */
export interface PreparedDataset {
  name: string;
  train: SegSplit;
  val: SegSplit;
  test: SegSplit;
  /** sha256 identifying the source data (see loadDataset); goes into result provenance. */
  manifestHash: string;
  settings: Record<string, unknown>;
  /** Deviations and facts a report should state (e.g. QaTa val = 300 staged images). */
  notes: string[];
  /** Problems with the input a user should see (masks that are not two-level), one per split at most. */
  warnings: string[];
  /** Where the prepared file is and whether this load read it instead of decoding (absent for synthetic). */
  cache?: { path: string; hit: boolean };
}

/** The uint8 content of one split. */
export interface SplitArrays {
  split: SplitName;
  ids: string[];
  texts: string[];
  height: number;
  width: number;
  /** Channels stored in `images` (1 = grey, replicated to 3 on read; or 3). */
  storedChannels: 1 | 3;
  /** [n, H, W, storedChannels] uint8. */
  images: Uint8Array;
  /** [n * H * W] bits, LSB first: 1 = foreground. */
  maskBits: Uint8Array;
  /** Masks of this split whose grey levels are not a clean {0, 255} (see mask-levels.ts). */
  maskFindings: MaskFinding[];
}

/** uint8 -> [0,1] exactly as torchvision's to_tensor: float32(x) / 255. */
const U8_TO_UNIT = new Float32Array(256).map((_, i) => i / 255);

/** An image's uint8 values as the model reads them (`U8_TO_UNIT`). */
export function u8ToUnit(u8: Uint8Array): Float32Array {
  const out = new Float32Array(u8.length);
  for (let i = 0; i < u8.length; i++) out[i] = U8_TO_UNIT[u8[i]];
  return out;
}

export function packMaskBits(masks: readonly Uint8Array[], pixels: number): Uint8Array {
  const bits = new Uint8Array(Math.ceil((masks.length * pixels) / 8));
  masks.forEach((mask, k) => {
    const base = k * pixels;
    for (let i = 0; i < pixels; i++) {
      if (mask[i] !== 0) {
        const b = base + i;
        bits[b >> 3] |= 1 << (b & 7);
      }
    }
  });
  return bits;
}

/** A split backed by SplitArrays; `sample(i)` builds fresh float arrays each call. */
export class PreparedSplit implements SegSplit {
  readonly dataset: string;
  readonly split: SplitName;
  readonly size: number;
  readonly height: number;
  readonly width: number;
  readonly channels = 3;
  readonly ids: readonly string[];
  private readonly arrays: SplitArrays;

  constructor(dataset: string, arrays: SplitArrays) {
    const pixels = arrays.height * arrays.width;
    const n = arrays.ids.length;
    if (arrays.texts.length !== n) throw new Error(`${dataset}/${arrays.split}: ${n} ids but ${arrays.texts.length} texts`);
    if (arrays.images.length !== n * pixels * arrays.storedChannels) {
      throw new Error(`${dataset}/${arrays.split}: image bytes ${arrays.images.length} != ${n}x${arrays.height}x${arrays.width}x${arrays.storedChannels}`);
    }
    if (arrays.maskBits.length !== Math.ceil((n * pixels) / 8)) {
      throw new Error(`${dataset}/${arrays.split}: mask bytes ${arrays.maskBits.length} do not fit ${n} masks`);
    }
    this.dataset = dataset;
    this.split = arrays.split;
    this.size = n;
    this.height = arrays.height;
    this.width = arrays.width;
    this.ids = arrays.ids;
    this.arrays = arrays;
  }

  private checkIndex(index: number): void {
    if (!Number.isInteger(index) || index < 0 || index >= this.size) {
      throw new Error(`${this.dataset}/${this.split}: sample index ${index} out of range [0, ${this.size})`);
    }
  }

  text(index: number): string {
    this.checkIndex(index);
    return this.arrays.texts[index];
  }

  /** The image as uint8 HWC (3 channels, the prepared channel order). */
  imageU8(index: number): Uint8Array {
    this.checkIndex(index);
    const pixels = this.height * this.width;
    const { images, storedChannels } = this.arrays;
    if (storedChannels === 3) return images.slice(index * pixels * 3, (index + 1) * pixels * 3);
    const out = new Uint8Array(pixels * 3);
    const base = index * pixels;
    for (let i = 0; i < pixels; i++) {
      const v = images[base + i];
      out[3 * i] = v;
      out[3 * i + 1] = v;
      out[3 * i + 2] = v;
    }
    return out;
  }

  /** The mask, [H*W] values {0,1}. */
  mask(index: number): Uint8Array {
    this.checkIndex(index);
    const pixels = this.height * this.width;
    const out = new Uint8Array(pixels);
    const bits = this.arrays.maskBits;
    const base = index * pixels;
    for (let i = 0; i < pixels; i++) {
      const b = base + i;
      out[i] = (bits[b >> 3] >> (b & 7)) & 1;
    }
    return out;
  }

  image(index: number): ImageSample {
    return { id: this.ids[index], image: u8ToUnit(this.imageU8(index)), text: this.arrays.texts[index] };
  }

  sample(index: number): SegSample {
    return { ...this.image(index), mask: this.mask(index) };
  }

  /** The stored arrays (shared, do not modify). */
  get raw(): SplitArrays {
    return this.arrays;
  }
}

interface HeaderSplit {
  split: SplitName;
  ids: string[];
  texts: string[];
  height: number;
  width: number;
  storedChannels: 1 | 3;
  images: { offset: number; length: number };
  maskBits: { offset: number; length: number };
  maskFindings: MaskFinding[];
}

interface PreparedHeader {
  format: string;
  name: string;
  manifestHash: string;
  settings: Record<string, unknown>;
  notes: string[];
  createdAt: string;
  dataBytes: number;
  dataSha256: string;
  splits: HeaderSplit[];
}

export interface PreparedContent {
  name: string;
  manifestHash: string;
  settings: Record<string, unknown>;
  notes: string[];
  splits: Record<SplitName, SplitArrays>;
}

/** Write a prepared file atomically (tmp file in the same folder, fsync, rename). */
export function writePreparedFile(path: string, content: PreparedContent): void {
  const blocks: Uint8Array[] = [];
  const splits: HeaderSplit[] = [];
  let offset = 0;
  const hash = createHash('sha256');
  for (const name of SPLIT_NAMES) {
    const a = content.splits[name];
    const images = { offset, length: a.images.length };
    offset += a.images.length;
    const maskBits = { offset, length: a.maskBits.length };
    offset += a.maskBits.length;
    blocks.push(a.images, a.maskBits);
    hash.update(a.images);
    hash.update(a.maskBits);
    splits.push({ split: name, ids: a.ids, texts: a.texts, height: a.height, width: a.width, storedChannels: a.storedChannels, images, maskBits, maskFindings: a.maskFindings });
  }
  const header: PreparedHeader = {
    format: PREPARED_FORMAT,
    name: content.name,
    manifestHash: content.manifestHash,
    settings: content.settings,
    notes: content.notes,
    createdAt: new Date().toISOString(),
    dataBytes: offset,
    dataSha256: hash.digest('hex'),
    splits,
  };
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const prefix = Buffer.alloc(12);
  prefix.write(MAGIC, 0, 'ascii');
  prefix.writeUInt32LE(json.length, 8);
  const pad = Buffer.alloc((8 - ((12 + json.length) % 8)) % 8);

  try {
    writeFileAtomicWith(path, (fd) => {
      for (const chunk of [prefix, json, pad, ...blocks]) writeAll(fd, chunk);
    });
  } catch (err) {
    throw new Error(`${path}: cannot write prepared dataset (${(err as Error).message})`);
  }
}

/** Read a prepared file (no image decoding) and check its layout and data checksum. */
export function readPreparedFile(path: string): PreparedContent {
  let buf: Buffer;
  try {
    buf = readFileSync(path);
  } catch (err) {
    throw new Error(`${path}: cannot read prepared dataset (${(err as Error).message})`);
  }
  const fail = (problem: string): never => {
    throw new Error(`${path}: not a valid prepared dataset file (${problem}); delete it to rebuild`);
  };
  if (buf.length < 12 || buf.toString('ascii', 0, 8) !== MAGIC) fail('bad magic');
  const headerLength = buf.readUInt32LE(8);
  if (12 + headerLength > buf.length) fail('header runs past the end');
  let header: PreparedHeader;
  try {
    header = JSON.parse(buf.toString('utf8', 12, 12 + headerLength)) as PreparedHeader;
  } catch (err) {
    return fail(`header JSON: ${(err as Error).message}`);
  }
  if (header.format !== PREPARED_FORMAT) fail(`format ${String(header.format)}, expected ${PREPARED_FORMAT}`);
  const dataStart = 12 + headerLength + ((8 - ((12 + headerLength) % 8)) % 8);
  if (buf.length !== dataStart + header.dataBytes) {
    fail(`size ${buf.length} bytes, header says ${dataStart + header.dataBytes} (truncated copy?)`);
  }
  const data = new Uint8Array(buf.buffer, buf.byteOffset + dataStart, header.dataBytes);
  const sha = createHash('sha256').update(data).digest('hex');
  if (sha !== header.dataSha256) fail('data checksum mismatch (corrupt or truncated copy)');
  const splits = {} as Record<SplitName, SplitArrays>;
  for (const s of header.splits) {
    const view = (r: { offset: number; length: number }) => {
      if (r.offset < 0 || r.offset + r.length > data.length) fail(`split ${s.split}: byte range outside the data`);
      return data.subarray(r.offset, r.offset + r.length);
    };
    splits[s.split] = {
      split: s.split,
      ids: s.ids,
      texts: s.texts,
      height: s.height,
      width: s.width,
      storedChannels: s.storedChannels,
      images: view(s.images),
      maskBits: view(s.maskBits),
      maskFindings: Array.isArray(s.maskFindings) ? s.maskFindings : fail(`split ${s.split}: no maskFindings`),
    };
  }
  for (const name of SPLIT_NAMES) if (splits[name] === undefined) fail(`split ${name} missing`);
  return { name: header.name, manifestHash: header.manifestHash, settings: header.settings, notes: header.notes, splits };
}

/**
 * A PreparedDataset over prepared content. The mask-level warnings and notes are derived here from
 * the stored findings, so a load from the cache reports them exactly as the load that decoded;
 * `datasetDir` (when known) turns the findings' relative paths into full ones.
 */
export function datasetFromContent(content: PreparedContent, cache?: { path: string; hit: boolean }, datasetDir?: string): PreparedDataset {
  const split = (name: SplitName) => new PreparedSplit(content.name, content.splits[name]);
  const levels = SPLIT_NAMES.map((name) => {
    const { maskFindings, ids } = content.splits[name];
    return maskLevelMessages(name, maskFindings, ids.length, datasetDir);
  });
  return {
    name: content.name,
    train: split('train'),
    val: split('val'),
    test: split('test'),
    manifestHash: content.manifestHash,
    settings: content.settings,
    notes: [...content.notes, ...levels.flatMap((l) => l.notes)],
    warnings: levels.flatMap((l) => l.warnings),
    ...(cache ? { cache } : {}),
  };
}

/** Read a prepared dataset file copied from anywhere (e.g. another machine); no data root needed. */
export function readPreparedDataset(path: string): PreparedDataset {
  return datasetFromContent(readPreparedFile(path), { path, hit: true });
}
