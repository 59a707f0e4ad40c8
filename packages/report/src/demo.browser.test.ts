/**
 * The "try it" panel in headless Chromium from file://, no network: a small LViT-TW exported with
 * `exportModelToOnnx` is the published model of a fixture row whose stored per-image Dice was
 * computed with onnxruntime-node; the page must segment that test image with onnxruntime-web and get
 * the same Dice, and a dropped non-image must give a message, not a broken page.
 * Without /usr/bin/chromium the test fails under CI=true and is skipped otherwise (as browser.test.ts).
 */
import * as tf from '@tensorflow/tfjs';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import * as ort from 'onnxruntime-node';
import { chromium } from 'playwright-core';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import { createModel, exportModelToOnnx, IMAGE_NORMALISATION, ONNX_MODEL_FORMAT, registerOnnxruntimeBackend, scoreImage, type RunResult } from '@lvit-bench/core';
import { buildReport } from './build.js';
import { writeFixtureRun } from './fixtures.test-util.js';

const CHROMIUM = process.env.REPORT_CHROMIUM ?? '/usr/bin/chromium';
const SIZE = 32;
const tmp = mkdtempSync(join(tmpdir(), 'lvit-demo-browser-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** A test image with structure (so the mask is not empty or full) and a square ground truth. */
async function writeQualPair(dir: string, stem: string, seed: number): Promise<void> {
  const rgb = Buffer.alloc(SIZE * SIZE * 3);
  for (let y = 0; y < SIZE; y++)
    for (let x = 0; x < SIZE; x++) rgb.set([(x * 8 + seed * 40) % 256, (y * 8) % 256, ((x ^ y) * 16) % 256], (y * SIZE + x) * 3);
  await sharp(rgb, { raw: { width: SIZE, height: SIZE, channels: 3 } }).png().toFile(join(dir, `qual/${stem}.image.png`));
  const gt = Buffer.alloc(SIZE * SIZE);
  for (let y = 0; y < SIZE; y++) for (let x = 0; x < SIZE; x++) gt[y * SIZE + x] = x >= 8 && x < 24 && y >= 6 && y < 20 ? 255 : 0;
  await sharp(gt, { raw: { width: SIZE, height: SIZE, channels: 1 } }).png().toFile(join(dir, `qual/${stem}.gt.png`));
}

/** The qualitative PNG (RGB) as the model's BGR /255 input. */
async function bgrInput(dir: string, stem: string): Promise<Float32Array> {
  const { data } = await sharp(join(dir, `qual/${stem}.image.png`)).raw().toBuffer({ resolveWithObject: true });
  const x = new Float32Array(SIZE * SIZE * 3);
  for (let p = 0; p < SIZE * SIZE; p++) for (let k = 0; k < 3; k++) x[3 * p + k] = data[3 * p + 2 - k] / 255;
  return x;
}

/**
 * An untrained model's probabilities all sit near 0.5; scale its output layer by 40 and centre its
 * bias on the image's median logit, so about half the pixels are confidently foreground.
 */
function spreadOutput(model: ReturnType<typeof createModel>, image: tf.Tensor4D): void {
  const params = new Map(model.namedParameters());
  const w = params.get('outc.weight')!;
  const b = params.get('outc.bias')!;
  const prob = tf.tidy(() => model.forward(image, null, { training: false })).dataSync() as Float32Array;
  const bias = b.dataSync()[0];
  const preBias = Array.from(prob, (p) => Math.log(p / (1 - p)) - bias).sort((x, y) => x - y);
  const median = preBias[preBias.length >> 1];
  w.assign(tf.mul(w, 40));
  b.assign(tf.tensor1d([-40 * median]));
}

/** What the run's evaluation would store: Dice of the exported model on the image, in onnxruntime-node. */
async function nodeDice(model: Uint8Array, dir: string, stem: string): Promise<number> {
  const x = await bgrInput(dir, stem);
  const session = await ort.InferenceSession.create(model);
  const prob = (await session.run({ i0: new ort.Tensor('float32', x, [1, SIZE, SIZE, 3]) })).o0.data as Float32Array;
  await session.release();
  const gt = (await sharp(join(dir, `qual/${stem}.gt.png`)).raw().toBuffer({ resolveWithObject: true })).data;
  const mask = Uint8Array.from({ length: SIZE * SIZE }, (_, i) => (gt[i * 3] > 127 ? 1 : 0));
  return scoreImage(prob, mask, 'test').dice;
}

describe('try-it panel in a real browser', () => {
  it('segments a test image in the page with the stored Dice, and answers a dropped non-image with a message', async (ctx) => {
    if (!existsSync(CHROMIUM)) {
      const reason = `${CHROMIUM} not found: install it with 'apt-get install -y chromium'`;
      if (process.env.CI === 'true') throw new Error(`browser test needs chromium in CI: ${reason}`);
      ctx.skip(`skipped: ${reason}`);
    }
    const runsDir = join(tmp, 'runs');
    const resultFile = await writeFixtureRun(runsDir, { profile: 'smoke', reduced: true, dataset: 'monuseg', model: 'lvit-tw', labelFraction: 100, seed: 1, perImageDice: [0.5, 0.5, 0.5] });
    const dir = dirname(resultFile);
    const result = JSON.parse(readFileSync(resultFile, 'utf8')) as RunResult;
    const stems = result.qualitative.map((q) => q.id.replace(/\.png$/, ''));
    for (const [k, stem] of stems.entries()) await writeQualPair(dir, stem, k);

    const probe = await registerOnnxruntimeBackend({ intraOpNumThreads: 2 });
    expect(probe.ok, probe.reason).toBe(true);
    await tf.setBackend('onnxruntime');
    const config = { baseChannels: 8, imageSize: SIZE, tokenGrid: 2, heads: 2 };
    const model = createModel('lvit-tw', { ...config, seed: 3 });
    const image = tf.tensor4d(await bgrInput(dir, stems[0]), [1, SIZE, SIZE, 3]);
    spreadOutput(model, image);
    const runId = 'smoke/monuseg/lvit-tw/f100/s1';
    const { bytes } = exportModelToOnnx(model, {
      format: ONNX_MODEL_FORMAT, model: 'lvit-tw', modelKey: 'lvit-tw', modelConfig: config, inputShape: [SIZE, SIZE, 3], channelOrder: 'bgr',
      normalisation: IMAGE_NORMALISATION, textEncoder: null, textShape: null, runId, dataset: 'monuseg', labelFraction: 100, seed: 1,
      checkpointEpoch: 1, dataManifestHash: 'sha256:test', gitCommit: 'c0ffee', gitDirty: false,
    }, image, null);
    tf.dispose(image);
    model.dispose();
    await tf.setBackend('cpu');

    writeFileSync(join(dir, 'model.onnx'), bytes);
    for (const [k, q] of result.qualitative.entries()) result.test.perImage.find((p) => p.id === q.id)!.dice = await nodeDice(bytes, dir, stems[k]);
    result.train.imageSize = SIZE;
    writeFileSync(resultFile, JSON.stringify(result));
    const stored = result.test.perImage[0];
    expect(stored.dice).toBeGreaterThan(0.05); // a real overlap, not the empty-mask 0
    const { indexHtml } = await buildReport({ runsDir, outDir: join(tmp, 'site') });

    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
    try {
      const page = await browser.newPage();
      const problems: string[] = [];
      page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
      page.on('request', (req) => {
        if (!/^(file|data|blob):/.test(req.url())) problems.push(`network request: ${req.url()}`);
      });
      await page.goto(pathToFileURL(indexHtml).href, { waitUntil: 'load' });
      await page.click(`#demo-images button[data-id="${stored.id}"]`);
      await page.waitForFunction(() => ['done', 'error'].includes(document.getElementById('demo-status')!.getAttribute('data-state') ?? ''), null, { timeout: 90_000 });
      const done = await page.evaluate(() => {
        const s = document.getElementById('demo-status')!;
        const c = document.getElementById('demo-canvas') as HTMLCanvasElement;
        return { state: s.getAttribute('data-state'), text: s.textContent, dice: Number(s.getAttribute('data-dice')), stored: Number(s.getAttribute('data-stored')), ms: Number(s.getAttribute('data-ms')), width: c.width };
      });
      expect(done.state, done.text ?? '').toBe('done');
      // Same graph, same input bytes: wasm and native ORT agree to float noise, which could flip a
      // pixel within ~1e-7 of p = 0.5. Tolerance: two flipped pixels (|P|+|G| ~ 700 here, ~0.003
      // each); measured: identical. Feeding RGB instead of BGR moved it by 0.037.
      expect(Math.abs(done.dice - stored.dice)).toBeLessThanOrEqual(0.006);
      expect(done.stored).toBeCloseTo(stored.dice, 12);
      expect(done.width).toBe(SIZE);
      if (process.env.LVIT_PRINT_DEMO) console.log(`page Dice ${done.dice}, stored ${stored.dice}, ${done.ms} ms`);

      // A dropped text file: a message in the panel, and the page keeps working.
      const dt = await page.evaluateHandle(() => {
        const d = new DataTransfer();
        d.items.add(new File(['hello'], 'notes.txt', { type: 'text/plain' }));
        return d;
      });
      await page.dispatchEvent('#demo-drop', 'drop', { dataTransfer: dt });
      expect(await page.textContent('#demo-status')).toMatch(/notes\.txt is not an image \(text\/plain\)/);
      // A file that claims to be a PNG but is not one.
      await page.setInputFiles('#demo-file', { name: 'fake.png', mimeType: 'image/png', buffer: Buffer.from('not a png') });
      await page.waitForFunction(() => document.getElementById('demo-status')!.getAttribute('data-state') === 'error' && /fake\.png/.test(document.getElementById('demo-status')!.textContent ?? ''));
      expect(await page.textContent('#demo-status')).toMatch(/fake\.png could not be decoded as an image/);
      expect(await page.getAttribute('a[download]', 'href')).toBe('assets/models/grp-monuseg-smoke-lvit-tw-f100.onnx');
      expect(problems).toEqual([]);
    } finally {
      await browser.close();
    }
  });
});
