import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { createModel, npzBytes, Rng, type RunResult } from '@lvit-bench/core';
import { imageNet21kKeyMap, type TransUNet } from '@lvit-bench/baselines';
import { decodeMaskBytes, PreparedSplit, readLabelManifest } from '@lvit-bench/datasets';
import { reproduce } from './lib/reproduce.js';
import { runDirOf } from './lib/experiment.js';
import { smokeProfile } from './configs/profiles.js';
import { FROM_SCRATCH } from './lib/transunet-start.js';

/**
 * The official test-time scores (test_model.py, LVIT.md §4) of one saved prediction, from its PNGs
 * alone (independent of core's metrics.ts): Dice = 2 Σ lp / (Σ l + Σ p + 1e-5), IoU = TP / union, 0 on
 * an empty union (sklearn's zero_division), so an empty mask predicted empty scores 0 / 0.
 */
async function officialScores(dir: string, q: RunResult['qualitative'][number]): Promise<{ dice: number; iou: number }> {
  const read = async (file: string) => (await decodeMaskBytes(new Uint8Array(readFileSync(join(dir, file))), join(dir, file))).data;
  const [label, pred] = await Promise.all([read(q.groundTruth), read(q.prediction)]);
  let tp = 0;
  let l = 0;
  let p = 0;
  for (let i = 0; i < label.length; i++) {
    const li = label[i] > 127 ? 1 : 0;
    const pi = pred[i] > 127 ? 1 : 0;
    tp += li * pi;
    l += li;
    p += pi;
  }
  const union = l + p - tp;
  return { dice: (2 * tp) / (l + p + 1e-5), iou: union === 0 ? 0 : tp / union };
}

/**
 * End to end on the real data: the smoke profile trains and evaluates every model on both datasets,
 * writes one complete result per run, skips them on a re-run, and builds the report.
 */
describe('reproduce --profile smoke', () => {
  const work = mkdtempSync(join(tmpdir(), 'lvit-smoke-'));
  const runsDir = join(work, 'runs');
  const siteDir = join(work, 'site');
  const argv = ['--profile', 'smoke', '--runs-dir', runsDir, '--site-dir', siteDir];

  // Every mask read of the prepared data, with the run that was training at the time.
  const maskReads: { run: string; split: string; id: string }[] = [];
  let training = '';
  const trackRun = (msg: string) => {
    const started = /^(\S+): (stage 2 from|training) /.exec(msg);
    if (started) training = started[1];
    if (/: test Dice /.test(msg)) training = '';
  };

  it('runs the whole smoke matrix and writes results with provenance', async () => {
    const readMask = PreparedSplit.prototype.mask;
    PreparedSplit.prototype.mask = function (this: PreparedSplit, index: number) {
      maskReads.push({ run: training, split: this.split, id: this.ids[index] });
      return readMask.call(this, index);
    };
    let counts;
    try {
      counts = await reproduce(argv, trackRun);
    } finally {
      PreparedSplit.prototype.mask = readMask;
    }
    const semiRuns = smokeProfile.datasets.reduce((n, d) => n + Object.values(smokeProfile.semiModels[d]).flat().length * smokeProfile.seeds[d].length, 0);
    const expected = smokeProfile.datasets.reduce((n, d) => n + smokeProfile.models.length * smokeProfile.fractions.length * smokeProfile.seeds[d].length, 0);
    expect(semiRuns).toBeGreaterThan(0);
    expect(counts).toEqual({ ran: expected + semiRuns, skipped: 0, failed: 0 });

    for (const dataset of smokeProfile.datasets) {
      for (const model of smokeProfile.models) {
        for (const labelFraction of smokeProfile.fractions) {
          const dir = runDirOf(runsDir, 'smoke', { model, dataset, labelFraction, seed: 666 });
          const result = JSON.parse(readFileSync(join(dir, 'result.json'), 'utf8')) as RunResult;
          expect(result.profile).toMatchObject({ name: 'smoke', reduced: true });
          expect(result.test.n).toBe(smokeProfile.data[dataset].limits!.test);
          expect(result.test.dice).toBeGreaterThanOrEqual(0);
          expect(result.test.dice).toBeLessThanOrEqual(1);
          expect(result.test.perImage).toHaveLength(result.test.n);
          // The reported score is the mean over images of the per-image scores (Σ / n, as test_model.py) ...
          const mean = (key: 'dice' | 'iou') => result.test.perImage.reduce((t, s) => t + s[key], 0) / result.test.n;
          expect(result.test.dice).toBeCloseTo(mean('dice'), 12);
          expect(result.test.iou).toBeCloseTo(mean('iou'), 12);
          // ... and each saved prediction's score is the official formula's on its PNGs.
          expect(result.qualitative.length).toBeGreaterThan(0);
          for (const q of result.qualitative) {
            const scored = result.test.perImage.find((s) => s.id === q.id)!;
            const official = await officialScores(dir, q);
            expect(scored.dice, q.id).toBeCloseTo(official.dice, 9);
            expect(scored.iou, q.id).toBeCloseTo(official.iou, 9);
          }
          expect(result.curves).toHaveLength(result.train.epochsRun);
          expect(result.provenance.backend).toBeTruthy();
          expect(result.provenance.dataManifestHash).toMatch(/^[0-9a-f]{16,}$/);
          expect(result.provenance.gitCommit).toBeTruthy();
          expect(result.provenance.textEncoder === null).toBe(model !== 'lvit-t');
          expect(result.pretrained).toBe(model === 'transunet' ? FROM_SCRATCH : undefined);
          const [labelsFile, labelsHash] = result.provenance.labelManifest.split('#sha256:');
          const labels = readLabelManifest(join(dir, labelsFile));
          expect(labels.labeled).toHaveLength(result.train.labeledImages);
          expect(labels.labeledSha256).toBe(labelsHash);
          for (const q of result.qualitative) expect(existsSync(join(dir, q.prediction))).toBe(true);
        }
      }
    }
    expect(existsSync(join(siteDir, 'index.html'))).toBe(true);
  }, 600_000);

  it('runs stage 2 of every semi-supervised variant from its prototype without reading an unlabelled mask', () => {
    for (const dataset of smokeProfile.datasets) {
      for (const [fraction, models] of Object.entries(smokeProfile.semiModels[dataset])) {
        for (const model of models) {
          const spec = { model, dataset, labelFraction: Number(fraction), seed: 666 };
          const dir = runDirOf(runsDir, 'smoke', spec);
          const result = JSON.parse(readFileSync(join(dir, 'result.json'), 'utf8')) as RunResult;
          const labels = readLabelManifest(join(dir, 'labels.json'));
          expect(result.model).toBe(model);
          expect(result.semi).toMatchObject({
            prototypeRunId: `smoke/${dataset}/lvit-t/f${fraction}/s666`,
            labeledImages: labels.labeled.length,
            unlabeledImages: labels.unlabeled.length,
            epi: { beta: 0.99, target: 'soft', update: 'iteration' },
            lv: { weight: 0.1, bank: dataset === 'qata' ? 'official-contrastive-labels' : 'labeled-images' },
          });
          expect(result.semi!.lv!.bankSize).toBe(dataset === 'qata' ? 14 : labels.labeled.length);
          for (const epoch of result.curves) expect(Object.keys(epoch.terms!).sort()).toEqual(['diceBCE', 'lv', 'pseudo']);
          // While this run trained, masks of its labelled images were read and none of its unlabelled ones.
          const runId = `smoke/${dataset}/${model}/f${fraction}/s666`;
          const trainReads = maskReads.filter((r) => r.run === runId && r.split === 'train').map((r) => r.id);
          expect(trainReads.length).toBeGreaterThan(0);
          expect(trainReads.filter((id) => labels.unlabeled.includes(id))).toEqual([]);
          expect(trainReads.every((id) => labels.labeled.includes(id))).toBe(true);
        }
      }
    }
  });

  it('initialises LViT from the trained U-Net with --unet-init (the official "pretrain")', async () => {
    const counts = await reproduce([...argv, '--no-report', '--models', 'lvit-t', '--datasets', 'monuseg', '--fractions', '100', '--unet-init'], () => {});
    expect(counts).toEqual({ ran: 1, skipped: 0, failed: 0 });
    const dir = runDirOf(runsDir, 'smoke', { model: 'lvit-t', dataset: 'monuseg', labelFraction: 100, seed: 666, unetInit: true });
    const result = JSON.parse(readFileSync(join(dir, 'result.json'), 'utf8')) as RunResult;
    expect(result.model).toBe('lvit-t+unet-init');
    // Every ConvBatchNorm of inc, down1-4 and up1-4.nConvs (1 + 4x2 + 4x2 = 17), each with conv
    // weight and bias, BN weight, bias, running mean and var, plus outc's weight and bias.
    expect(result.modelConfig.unetInit).toMatchObject({ copied: 17 * 6 + 2 });
  }, 120_000);

  it('starts TransUNet from an ImageNet-21k .npz with --transunet-weights and records the file and its sha256', async () => {
    // An npz in the official key layout for the smoke config: a seeded model's encoder under load_from's
    // keys, with a 14x14 + class-token position embedding as the real file has (resized to the 4x4 grid).
    const source = createModel('transunet', { ...smokeProfile.modelConfigs.transunet, imageSize: smokeProfile.data.monuseg.imageSize, seed: 3 }) as TransUNet;
    const params = new Map(source.namedParameters());
    const hidden = smokeProfile.modelConfigs.transunet.hiddenSize as number;
    const rng = new Rng(4);
    const arrays: [string, { shape: number[]; data: Float32Array }][] = imageNet21kKeyMap(source).map(([p, key]) => [key, { shape: params.get(p)!.shape, data: params.get(p)!.dataSync() as Float32Array }]);
    arrays.push(['Transformer/posembed_input/pos_embedding', { shape: [1, 197, hidden], data: Float32Array.from({ length: 197 * hidden }, () => rng.normal()) }]);
    source.dispose();
    const npz = join(work, 'R50+ViT-B_16.npz');
    writeFileSync(npz, npzBytes(arrays, 'deflated'));
    const logs: string[] = [];
    const one = ['--no-report', '--models', 'transunet', '--datasets', 'monuseg', '--fractions', '100'];
    const counts = await reproduce([...argv, ...one, '--transunet-weights', npz], (m) => logs.push(m));
    expect(counts).toEqual({ ran: 1, skipped: 0, failed: 0 });
    const dir = runDirOf(runsDir, 'smoke', { model: 'transunet', dataset: 'monuseg', labelFraction: 100, seed: 666, transunetWeights: npz });
    const result = JSON.parse(readFileSync(join(dir, 'result.json'), 'utf8')) as RunResult;
    expect(result.model).toBe('transunet+in21k');
    expect(result.pretrained).toBe(`R50+ViT-B_16.npz sha256:${createHash('sha256').update(readFileSync(npz)).digest('hex')}`);
    expect(logs.some((m) => /encoder tensors from R50\+ViT-B_16\.npz .*grid resized 14x14 -> 4x4/.test(m))).toBe(true);
    // A missing file is refused before any work.
    const before = logs.length;
    await expect(reproduce([...argv, ...one, '--transunet-weights', join(work, 'absent.npz')], (m) => logs.push(m))).rejects.toThrow(
      /^--transunet-weights: .*absent\.npz does not exist/,
    );
    expect(logs.slice(before).some((m) => /preparing|training/.test(m))).toBe(false);
  }, 120_000);

  it('re-runs a run whose result.json does not validate, from its checkpoints, keeping the bad file aside', async () => {
    const dir = runDirOf(runsDir, 'smoke', { model: 'unet', dataset: 'monuseg', labelFraction: 50, seed: 666 });
    const good = JSON.parse(readFileSync(join(dir, 'result.json'), 'utf8')) as RunResult;
    const torn = readFileSync(join(dir, 'result.json'), 'utf8').slice(0, 200);
    writeFileSync(join(dir, 'result.json'), torn);
    writeFileSync(join(dir, '.result.json.tmp-1-deadbeef'), '{"partial');
    const logs: string[] = [];
    const counts = await reproduce([...argv, '--no-report', '--models', 'unet', '--datasets', 'monuseg', '--fractions', '50'], (m) => logs.push(m));
    expect(counts).toEqual({ ran: 1, skipped: 0, failed: 0 });
    expect(logs.some((m) => /not valid JSON.*moved to .*result\.json\.invalid-\d+/.test(m))).toBe(true);
    const aside = readdirSync(dir).filter((f) => f.startsWith('result.json.invalid-'));
    expect(aside).toHaveLength(1);
    expect(existsSync(join(dir, '.result.json.tmp-1-deadbeef'))).toBe(false);
    expect(logs.some((m) => /removed 1 temp file\(s\) a killed writer left \(\.result\.json\.tmp-1-deadbeef\)/.test(m))).toBe(true);
    expect(readFileSync(join(dir, aside[0]), 'utf8')).toBe(torn);
    // The finished run's checkpoints were kept: it trained no further and scores the same.
    const again = JSON.parse(readFileSync(join(dir, 'result.json'), 'utf8')) as RunResult;
    expect(again.test.dice).toBe(good.test.dice);
    expect(again.curves).toEqual(good.curves);
    // Two processes worked on it; the epochs' time is counted across both.
    expect(good.provenance.segments).toHaveLength(1);
    expect(again.provenance.segments).toEqual([good.provenance.segments![0], again.provenance.startedAt]);
    expect(again.provenance.epochTimeSec).toBeCloseTo(good.curves.reduce((t, c) => t + c.timeSec, 0), 9);
  }, 120_000);

  it('refuses a runs folder it cannot write before any work, in one line', async () => {
    const file = join(work, 'not-a-folder');
    writeFileSync(file, '');
    const logs: string[] = [];
    await expect(reproduce([...argv.slice(0, 2), '--runs-dir', join(file, 'runs')], (m) => logs.push(m))).rejects.toThrow(
      /^The runs folder .*not-a-folder\/runs is not writable \(ENOTDIR\); pass --runs-dir DIR$/,
    );
    expect(logs.some((m) => /preparing|training/.test(m))).toBe(false);
  });

  it('skips completed runs on a re-run', async () => {
    const counts = await reproduce([...argv, '--no-report', '--models', 'unet'], () => {});
    expect(counts.ran).toBe(0);
    expect(counts.skipped).toBe(smokeProfile.datasets.length * smokeProfile.fractions.length);
  }, 120_000);
});
