/**
 * `lvit predict`: segment image files with a model written by `lvit export`, preprocessed exactly as
 * training prepared its data (datasets' readModelInput), with text for LViT-T through the encoder
 * and feature cache training used.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { readOnnxModelInfo, scoreImage, writeFileAtomic, type OnnxModelInfo } from '@lvit-bench/core';
import {
  encoderNameForInfo,
  maskToSize,
  readCsvTable,
  readModelInput,
  readModelMask,
  writePng,
} from '@lvit-bench/datasets';
import { csvCell } from '@lvit-bench/report';
import { progressLogger } from './progress.js';
import { trainedTextFeatures } from './text-features.js';

export const IMAGE_EXTENSIONS = ['.png', '.jpg', '.jpeg', '.tif', '.tiff'];
export const PREDICTIONS_CSV = 'predictions.csv';

export interface PredictOptions {
  model: string;
  /** Image files and folders (a folder contributes its files with an image extension, sorted). */
  images: string[];
  /** LViT-T: one sentence for every image, or a CSV with `image` and `text` columns. */
  sentence?: string;
  textCsv?: string;
  /** The text encoder the user asks for; refused unless it is the model's. */
  textEncoder?: string;
  /** Ground-truth masks, matched by file name (or stem + .png). */
  masks?: string;
  out: string;
  cacheDir: string;
  log: (msg: string) => void;
}

export interface PredictRow {
  image: string;
  width: number;
  height: number;
  /** Share of foreground pixels in the written mask (the file's size). */
  foreground: number;
  /** Against --masks, at the model size in the test convention (the run's own per-image numbers). */
  dice?: number;
  iou?: number;
  error?: string;
}

export function listImages(args: readonly string[]): string[] {
  if (args.length === 0) throw new Error('--images needs at least one file or folder');
  return args.flatMap((arg) => {
    if (!existsSync(arg)) throw new Error(`${arg}: no such file or folder`);
    if (!statSync(arg).isDirectory()) return [arg];
    const files = readdirSync(arg)
      .filter((f) => IMAGE_EXTENSIONS.includes(extname(f).toLowerCase()))
      .sort()
      .map((f) => join(arg, f));
    if (files.length === 0) throw new Error(`${arg}: no ${IMAGE_EXTENSIONS.join('/')} files in this folder`);
    return files;
  });
}

function readModel(file: string): { bytes: Uint8Array; info: OnnxModelInfo } {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(file);
  } catch (err) {
    throw new Error(`${file}: cannot read the model (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  return { bytes, info: readOnnxModelInfo(bytes, file) };
}

/** The sentence of each image, or null for a model without text. */
function sentencesFor(images: readonly string[], info: OnnxModelInfo, opts: PredictOptions): string[] | null {
  const given = opts.sentence !== undefined || opts.textCsv !== undefined;
  if (!info.textShape) {
    if (given) throw new Error(`${opts.model}: ${info.model} reads no text; drop --sentence/--text`);
    return null;
  }
  if (opts.sentence !== undefined && opts.textCsv !== undefined) throw new Error('give either --sentence or --text, not both');
  if (opts.sentence !== undefined) {
    if (opts.sentence.trim() === '') throw new Error('--sentence is empty');
    return images.map(() => opts.sentence!);
  }
  if (opts.textCsv === undefined) {
    throw new Error(`${opts.model}: ${info.model} segments an image from its report sentence: give --sentence "..." or --text CSV (columns image,text)`);
  }
  const table = readCsvTable(opts.textCsv, ['image', 'text']);
  const byImage = new Map(table.rows.map((r) => [r.values.image, r.values.text]));
  return images.map((file) => {
    const text = byImage.get(basename(file));
    if (text === undefined || text.trim() === '') throw new Error(`${opts.textCsv}: no sentence for image ${basename(file)}`);
    return text;
  });
}

/** Text features as the model was trained on; a different --text-encoder is refused. */
async function textFeatures(sentences: string[], info: OnnxModelInfo, opts: PredictOptions): Promise<(s: string) => Float32Array> {
  const trained = info.textEncoder!.name;
  if (opts.textEncoder !== undefined && opts.textEncoder !== trained && encoderNameForInfo(trained) !== opts.textEncoder) {
    throw new Error(`${opts.model}: trained with text encoder ${trained}; refusing --text-encoder ${opts.textEncoder} (its features mean something else)`);
  }
  return trainedTextFeatures(sentences, info, opts.model, opts);
}

function maskPathFor(image: string, masksDir: string): string {
  const same = join(masksDir, basename(image));
  if (existsSync(same)) return same;
  const png = join(masksDir, `${basename(image, extname(image))}.png`);
  if (existsSync(png)) return png;
  throw new Error(`${same}: no ground-truth mask for ${basename(image)} in ${masksDir}`);
}

/** The image with its foreground tinted magenta. */
function overlay(rgb: Uint8Array, mask: Uint8Array): Uint8Array {
  const out = Uint8Array.from(rgb);
  const tint = [255, 0, 200];
  for (let p = 0; p < mask.length; p++) {
    if (!mask[p]) continue;
    for (let k = 0; k < 3; k++) out[3 * p + k] = Math.round(0.55 * rgb[3 * p + k] + 0.45 * tint[k]);
  }
  return out;
}

/**
 * Writes `<stem>.mask.png` (0/255 at the image's size), `<stem>.overlay.png` and predictions.csv.
 * An image that cannot be read gets an `error` row, the others still run; the caller reports them.
 */
export async function predict(opts: PredictOptions): Promise<PredictRow[]> {
  const { bytes, info } = readModel(opts.model);
  const images = listImages(opts.images);
  const sentences = sentencesFor(images, info, opts);
  const text = sentences ? await textFeatures(sentences, info, opts) : null;
  let session: ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(bytes);
  } catch (err) {
    throw new Error(`${opts.model}: onnxruntime cannot load it (${(err as Error).message})`);
  }
  mkdirSync(opts.out, { recursive: true });
  const [size, , channels] = info.inputShape;
  const progress = progressLogger(`predict (${info.model})`, opts.log);
  const rows: PredictRow[] = [];
  try {
    for (const [k, file] of images.entries()) {
      try {
        const input = await readModelInput(file, size, info.channelOrder);
        const feeds: Record<string, ort.Tensor> = { i0: new ort.Tensor('float32', input.input, [1, size, size, channels]) };
        if (text) feeds.i1 = new ort.Tensor('float32', text(sentences![k]), [1, ...info.textShape!]);
        const prob = (await session.run(feeds)).o0.data as Float32Array;
        const small = prob.map((p) => (p > 0.5 ? 1 : 0));
        const mask = maskToSize(Uint8Array.from(small), size, input.width, input.height);
        const stem = basename(file, extname(file));
        await writePng(join(opts.out, `${stem}.mask.png`), mask.map((v) => (v ? 255 : 0)), input.width, input.height, 1);
        await writePng(join(opts.out, `${stem}.overlay.png`), overlay(input.rgb, mask), input.width, input.height, 3);
        const row: PredictRow = { image: file, width: input.width, height: input.height, foreground: mask.reduce((s, v) => s + v, 0) / mask.length };
        rows.push(row);
        try {
          if (opts.masks) Object.assign(row, scoreImage(prob, (await readModelMask(maskPathFor(file, opts.masks), size)).mask, 'test'));
        } catch (err) {
          row.error = (err as Error).message; // the prediction stands; only its score is missing
        }
      } catch (err) {
        rows.push({ image: file, width: 0, height: 0, foreground: 0, error: (err as Error).message });
      }
      if (images.length > 1) progress(k + 1, images.length);
    }
  } finally {
    await session.release();
  }
  writeFileAtomic(join(opts.out, PREDICTIONS_CSV), predictionsCsv(rows));
  return rows;
}

function predictionsCsv(rows: readonly PredictRow[]): string {
  const header = 'image,width,height,foreground_fraction,dice,iou,error';
  const lines = rows.map((r) =>
    [r.image, r.width || null, r.height || null, r.width ? r.foreground : null, r.dice ?? null, r.iou ?? null, r.error ?? null].map(csvCell).join(','),
  );
  return [header, ...lines].join('\n') + '\n';
}
