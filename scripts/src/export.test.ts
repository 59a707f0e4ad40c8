import * as tf from '@tensorflow/tfjs';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readOnnxModelInfo, registerOnnxruntimeBackend, Rng } from '@lvit-bench/core';
import { readModelInput } from '@lvit-bench/datasets';
import { exportPublishedSeeds, exportRun } from './lib/export-run.js';
import { FIXTURE_CONFIGS, FIXTURE_SIZE, tfjsForwardOfRun, writeFinishedRun } from './lib/run-fixture.test-util.js';

/**
 * `lvit export` for every model key: the exported file, run in onnxruntime-node's public API, gives
 * the tfjs forward of the same checkpoint on the tfjs *cpu* backend (no ORT kernel involved) on
 * real MoNuSeg test images, preprocessed as training does.
 *
 * Tolerance: max |onnx - tfjs| <= 1e-5 on the sigmoid probabilities. Both are float32 but sum
 * convolutions and matmuls in different orders (MLAS blocks vs tfjs-cpu loops), a few ulp per layer;
 * measured here: 3e-8 to 6e-8 (1 ulp at p = 0.5) for all four models. The margin is for other
 * CPUs and thread counts. Resetting one thing the checkpoint carries (BatchNorm running variances)
 * moved U-Net's output by 2.3e-3.
 */
const TOL = 1e-5;
const TEST_IMAGES = join(process.env.LVIT_DATA_ROOT ?? '/work/shared/data', 'monuseg', 'test', 'images');
let tmp: string;
let images: tf.Tensor4D[];

beforeAll(async () => {
  const probe = await registerOnnxruntimeBackend({ intraOpNumThreads: 2 });
  expect(probe.ok, probe.reason).toBe(true);
  tmp = mkdtempSync(join(tmpdir(), 'lvit-export-'));
  await tf.setBackend('cpu');
  const files = readdirSync(TEST_IMAGES).sort().slice(0, 3);
  images = await Promise.all(files.map(async (f) => tf.tensor4d((await readModelInput(join(TEST_IMAGES, f), FIXTURE_SIZE, 'bgr')).input, [1, FIXTURE_SIZE, FIXTURE_SIZE, 3])));
});

afterAll(() => {
  tf.dispose(images);
  rmSync(tmp, { recursive: true, force: true });
});

describe('lvit export', () => {
  for (const key of Object.keys(FIXTURE_CONFIGS)) {
    it(`${key}: onnxruntime-node output = tfjs cpu forward of the best checkpoint on real test images`, async () => {
      const dir = join(tmp, key);
      const result = writeFinishedRun(dir, key);
      await tf.setBackend('onnxruntime');
      const outcome = await exportRun(dir);
      const bytes = readFileSync(outcome.file);

      const info = readOnnxModelInfo(bytes, outcome.file);
      expect(info).toMatchObject({ model: key, modelKey: key, inputShape: [FIXTURE_SIZE, FIXTURE_SIZE, 3], channelOrder: 'bgr', runId: result.runId, dataManifestHash: 'sha256:test-manifest', gitCommit: 'c0ffee', checkpointEpoch: 6 });
      expect(info.textShape).toEqual(key === 'lvit-t' ? [10, 32] : null);

      await tf.setBackend('cpu');
      const reference = tfjsForwardOfRun(dir, result);
      const session = await ort.InferenceSession.create(bytes);
      const rng = new Rng(9);
      let maxDiff = 0;
      let spread = 0;
      try {
        for (const image of images) {
          const text = info.textShape ? tf.tensor3d(new Float32Array(320).map(() => rng.normal()), [1, 10, 32]) : null;
          const want = reference.forward(image, text);
          const feeds: Record<string, ort.Tensor> = { i0: new ort.Tensor('float32', image.dataSync() as Float32Array, image.shape) };
          if (text) feeds.i1 = new ort.Tensor('float32', text.dataSync() as Float32Array, text.shape);
          const got = (await session.run(feeds)).o0.data as Float32Array;
          text?.dispose();
          expect(got.length).toBe(FIXTURE_SIZE * FIXTURE_SIZE);
          for (let i = 0; i < got.length; i++) maxDiff = Math.max(maxDiff, Math.abs(got[i] - want[i]));
          spread = Math.max(spread, Math.max(...want) - Math.min(...want));
        }
      } finally {
        await session.release();
        reference.dispose();
      }
      if (process.env.LVIT_PRINT_DIFF) console.log(`${key}: max diff ${maxDiff.toExponential(2)}, output spread ${spread.toFixed(3)}`);
      expect(maxDiff, `${key}: max |onnx - tfjs cpu|`).toBeLessThanOrEqual(TOL);
      // Not a constant map: the comparison would be empty.
      expect(spread).toBeGreaterThan(1e-3);
    });
  }

  it('reproduce exports the seed each report row publishes (best validation Dice), once, and restores the backend', async () => {
    const root = join(tmp, 'matrix');
    for (const seed of [6, 7]) {
      const dir = join(root, 'unet', `s${seed}`);
      writeFinishedRun(dir, 'unet', seed);
      const result = JSON.parse(readFileSync(join(dir, 'result.json'), 'utf8'));
      result.val.bestDice = seed === 7 ? 0.8 : 0.6;
      result.test.dice = seed === 7 ? 0.1 : 0.9; // the test score must not choose
      writeFileSync(join(dir, 'result.json'), JSON.stringify(result));
    }
    await tf.setBackend('cpu');
    const log: string[] = [];
    expect(await exportPublishedSeeds(root, 'test', { cacheDir: join(tmp, 'cache'), log: (m) => log.push(m) })).toEqual([]);
    expect(tf.getBackend()).toBe('cpu');
    expect(existsSync(join(root, 'unet', 's6', 'model.onnx'))).toBe(false);
    const file = join(root, 'unet', 's7', 'model.onnx');
    expect(readOnnxModelInfo(readFileSync(file), file).seed).toBe(7);
    const written = statSync(file).mtimeMs;
    await exportPublishedSeeds(root, 'test', { cacheDir: join(tmp, 'cache'), log: (m) => log.push(m) });
    expect(statSync(file).mtimeMs).toBe(written);
    expect(log).toHaveLength(1);
  });

  it('over merged runs folders (the shards of one matrix), the seed is chosen across all of them', async () => {
    const roots = [join(tmp, 'shard-a'), join(tmp, 'shard-b')];
    for (const [k, seed] of [6, 7].entries()) {
      const dir = join(roots[k], 'unet', `s${seed}`);
      writeFinishedRun(dir, 'unet', seed);
      const result = JSON.parse(readFileSync(join(dir, 'result.json'), 'utf8'));
      result.val.bestDice = seed === 7 ? 0.8 : 0.6;
      writeFileSync(join(dir, 'result.json'), JSON.stringify(result));
    }
    await tf.setBackend('cpu');
    expect(await exportPublishedSeeds(roots, undefined, { cacheDir: join(tmp, 'cache'), log: () => undefined })).toEqual([]);
    expect(existsSync(join(roots[0], 'unet', 's6', 'model.onnx'))).toBe(false);
    expect(existsSync(join(roots[1], 'unet', 's7', 'model.onnx'))).toBe(true);
  });

  it('lvit report in a fresh process (no tfjs backend yet) exports the row it links, then builds the page', () => {
    const root = join(tmp, 'report-cli');
    writeFinishedRun(join(root, 'unet', 's6'), 'unet', 6);
    const cli = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'report.js');
    const r = spawnSync(process.execPath, [cli, '--runs', root, '--out', join(tmp, 'report-cli-site'), '--cache-dir', join(tmp, 'cache')], { encoding: 'utf8' });
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(r.stdout + r.stderr).not.toContain('FAILED');
    expect(existsSync(join(root, 'unet', 's6', 'model.onnx'))).toBe(true);
  });

  it('LViT-T: the run\'s test sentences go next to the model as features of its encoder', async () => {
    const dir = join(tmp, 'lvit-t-text');
    writeFinishedRun(dir, 'lvit-t');
    const result = JSON.parse(readFileSync(join(dir, 'result.json'), 'utf8'));
    const sentences = ['The nuclei are evenly distributed.', 'Nuclei are dense in the upper left.'];
    result.qualitative = sentences.map((text, i) => ({ id: `img${i}.png`, text, image: `qual/img${i}.image.png`, groundTruth: `qual/img${i}.gt.png`, prediction: `qual/img${i}.pred.png` }));
    writeFileSync(join(dir, 'result.json'), JSON.stringify(result));
    await tf.setBackend('onnxruntime');
    const outcome = await exportRun(dir, undefined, { cacheDir: join(tmp, 'cache'), log: () => undefined });
    await tf.setBackend('cpu');
    expect(outcome.textFile).toBe(join(dir, 'model.text.json'));
    const bundle = JSON.parse(readFileSync(outcome.textFile!, 'utf8'));
    expect(bundle).toMatchObject({ format: 'lvit-bench/text-features@1', encoder: 'tiny-random-bert', shape: [10, 32] });
    expect(bundle.sentences.map((s: { text: string }) => s.text)).toEqual(sentences);
    const f = (i: number) => new Float32Array(Uint8Array.from(Buffer.from(bundle.sentences[i].features, 'base64')).buffer);
    expect(f(0).length).toBe(320);
    expect(f(0).some((v, k) => v !== f(1)[k])).toBe(true); // two sentences, two feature matrices
  });

  it('names the run folder when there is nothing to export', async () => {
    await expect(exportRun(join(tmp, 'nowhere'))).rejects.toThrow(/nowhere\/result\.json: no result file/);
  });
});
