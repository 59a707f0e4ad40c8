import * as tf from '@tensorflow/tfjs';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerOnnxruntimeBackend, scoreImage } from '@lvit-bench/core';
import { readCsvTable, readModelInput, readModelMask } from '@lvit-bench/datasets';
import { exportRun } from './lib/export-run.js';
import { predict, PREDICTIONS_CSV, type PredictOptions } from './lib/predict.js';
import { FIXTURE_SIZE, tfjsForwardOfRun, writeFinishedRun } from './lib/run-fixture.test-util.js';

/**
 * `lvit predict` on staged MoNuSeg test images (a folder, with masks) and on a user-style odd-size
 * JPEG, with exported fixture models (U-Net; LViT-T with the tiny-random-bert encoder), and its
 * refusals. The reference for the masks and scores is the tfjs cpu forward of the same checkpoint.
 */
const TEST = join(process.env.LVIT_DATA_ROOT ?? '/work/shared/data', 'monuseg', 'test');
let tmp: string;
let imagesDir: string;
const models: Record<string, { onnx: string; dir: string; result: ReturnType<typeof writeFinishedRun> }> = {};

beforeAll(async () => {
  const probe = await registerOnnxruntimeBackend({ intraOpNumThreads: 2 });
  expect(probe.ok, probe.reason).toBe(true);
  tmp = mkdtempSync(join(tmpdir(), 'lvit-predict-'));
  imagesDir = join(tmp, 'images');
  mkdirSync(imagesDir);
  for (const f of readdirSync(join(TEST, 'images')).sort().slice(0, 3)) copyFileSync(join(TEST, 'images', f), join(imagesDir, f));
  writeFileSync(join(imagesDir, 'README.txt'), 'not an image: skipped by extension');
  await sharp(join(TEST, 'images', readdirSync(join(TEST, 'images')).sort()[0]))
    .extract({ left: 200, top: 100, width: 333, height: 217 })
    .jpeg({ quality: 85 })
    .toFile(join(tmp, 'My Photo.JPG'));
  await tf.setBackend('onnxruntime');
  for (const [name, key, overrides] of [['unet', 'unet', {}], ['lvit-t', 'lvit-t', {}], ['lvit-t-dim16', 'lvit-t', { textDim: 16 }]] as const) {
    const dir = join(tmp, 'runs', name);
    const result = writeFinishedRun(dir, key, 5, overrides);
    models[name] = { onnx: (await exportRun(dir)).file, dir, result };
  }
  await tf.setBackend('cpu');
});

afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function options(model: string, out: string, extra: Partial<PredictOptions> = {}): PredictOptions {
  return { model: models[model]?.onnx ?? model, images: [imagesDir], out: join(tmp, out), cacheDir: join(tmp, 'cache'), log: () => undefined, ...extra };
}

async function pngInfo(path: string): Promise<{ width: number; height: number; channels: number; foreground: number }> {
  const { data, info } = await sharp(path).raw().toBuffer({ resolveWithObject: true });
  let fg = 0;
  for (let i = 0; i < data.length; i += info.channels) if (data[i] > 127) fg++;
  // raw() gives grey as 3 equal channels; the channels stored in the file are in the metadata.
  const { channels } = await sharp(path).metadata();
  return { width: info.width, height: info.height, channels: channels!, foreground: fg / (info.width * info.height) };
}

describe('lvit predict', () => {
  it('a folder of staged test images with masks: mask and overlay at 1000x1000, scores = the checkpoint evaluated in tfjs', async () => {
    const rows = await predict(options('unet', 'unet', { masks: join(TEST, 'masks') }));
    expect(rows.map((r) => basename(r.image))).toEqual(readdirSync(imagesDir).filter((f) => f.endsWith('.png')).sort());
    const reference = tfjsForwardOfRun(models.unet.dir, models.unet.result);
    try {
      for (const row of rows) {
        expect(row.error).toBeUndefined();
        const stem = basename(row.image, '.png');
        const mask = await pngInfo(join(tmp, 'unet', `${stem}.mask.png`));
        expect(mask).toMatchObject({ width: 1000, height: 1000, channels: 1 });
        expect(row.foreground).toBeCloseTo(mask.foreground, 12);
        expect(await pngInfo(join(tmp, 'unet', `${stem}.overlay.png`))).toMatchObject({ width: 1000, height: 1000, channels: 3 });
        const input = await readModelInput(row.image, FIXTURE_SIZE, 'bgr');
        const prob = reference.forward(tf.tensor4d(input.input, [1, FIXTURE_SIZE, FIXTURE_SIZE, 3]), null);
        const want = scoreImage(prob, (await readModelMask(join(TEST, 'masks', basename(row.image)), FIXTURE_SIZE)).mask, 'test');
        expect(row.dice).toBeCloseTo(want.dice, 6);
        expect(row.iou).toBeCloseTo(want.iou, 6);
      }
    } finally {
      reference.dispose();
    }
    const csv = readCsvTable(join(tmp, 'unet', PREDICTIONS_CSV), ['image', 'foreground_fraction', 'dice', 'iou', 'error']);
    expect(csv.rows.map((r) => Number(r.values.dice))).toEqual(rows.map((r) => r.dice));
  });

  it('a user-style JPEG of odd size, with a sentence for LViT-T: mask and overlay at 333x217', async () => {
    const rows = await predict(options('lvit-t', 'jpeg', { images: [join(tmp, 'My Photo.JPG')], sentence: 'Nuclei are dense in the upper left.' }));
    expect(rows).toHaveLength(1);
    expect(rows[0].error).toBeUndefined();
    expect([rows[0].width, rows[0].height]).toEqual([333, 217]);
    expect(await pngInfo(join(tmp, 'jpeg', 'My Photo.mask.png'))).toMatchObject({ width: 333, height: 217, channels: 1 });
    expect(await pngInfo(join(tmp, 'jpeg', 'My Photo.overlay.png'))).toMatchObject({ width: 333, height: 217, channels: 3 });
  });

  it('TIFF, grey and grey+alpha files of other sizes', async () => {
    const tile = sharp(join(TEST, 'images', readdirSync(join(TEST, 'images')).sort()[1])).extract({ left: 0, top: 0, width: 301, height: 155 });
    const files = [join(tmp, 'tile.tif'), join(tmp, 'grey.png'), join(tmp, 'grey-alpha.png')];
    await tile.clone().tiff().toFile(files[0]);
    await tile.clone().greyscale().png().toFile(files[1]);
    await tile.clone().greyscale().ensureAlpha().png().toFile(files[2]);
    const rows = await predict(options('unet', 'formats', { images: files }));
    expect(rows.map((r) => [r.error, r.width, r.height])).toEqual(files.map(() => [undefined, 301, 155]));
    expect(await pngInfo(join(tmp, 'formats', 'tile.mask.png'))).toMatchObject({ width: 301, height: 155, channels: 1 });
  });

  it('LViT-T reads each image\'s sentence from a CSV (the dataset\'s text.csv)', async () => {
    const rows = await predict(options('lvit-t', 'csv', { textCsv: join(TEST, '..', 'text.csv') }));
    expect(rows.every((r) => r.error === undefined)).toBe(true);
  });

  it('an unreadable image is an error row naming it; the other images still run', async () => {
    const bad = join(tmp, 'broken.png');
    writeFileSync(bad, 'this is not a png');
    const rows = await predict(options('unet', 'broken', { images: [bad, join(tmp, 'My Photo.JPG')] }));
    expect(rows[0].error).toMatch(/broken\.png: cannot decode image/);
    expect(rows[1].error).toBeUndefined();
    expect(readFileSync(join(tmp, 'broken', PREDICTIONS_CSV), 'utf8')).toMatch(/broken\.png: cannot decode image/);
  });

  it('refuses files and inputs it cannot honour, naming them', async () => {
    const notOnnx = join(tmp, 'notes.onnx');
    writeFileSync(notOnnx, 'hello');
    await expect(predict(options(notOnnx, 'x'))).rejects.toThrow(/notes\.onnx: not an ONNX model|notes\.onnx: not an lvit-bench model/);
    // A valid ONNX file without our metadata (an engine kernel graph would be the same).
    const foreign = join(tmp, 'foreign.onnx');
    const bytes = readFileSync(models.unet.onnx);
    const { onnx } = (await import('onnx-proto')).default;
    const decoded = onnx.ModelProto.decode(bytes);
    decoded.metadataProps = [];
    writeFileSync(foreign, onnx.ModelProto.encode(decoded).finish());
    await expect(predict(options(foreign, 'x'))).rejects.toThrow(/foreign\.onnx: not an lvit-bench model/);
    await expect(predict(options('lvit-t', 'x'))).rejects.toThrow(/lvit-t segments an image from its report sentence: give --sentence/);
    await expect(predict(options('lvit-t', 'x', { sentence: 'a', textEncoder: 'use-lite' }))).rejects.toThrow(/trained with text encoder tiny-random-bert; refusing --text-encoder use-lite/);
    await expect(predict(options('lvit-t-dim16', 'x', { sentence: 'a' }))).rejects.toThrow(/expects text features \[10, 16\] but tiny-random-bert gives \[10, 32\]/);
    await expect(predict(options('unet', 'x', { sentence: 'a' }))).rejects.toThrow(/unet reads no text/);
    await expect(predict(options('unet', 'x', { images: [join(tmp, 'nope')] }))).rejects.toThrow(/nope: no such file or folder/);
  });
});
