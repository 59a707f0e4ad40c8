import * as tf from '@tensorflow/tfjs';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EpochRecord } from '../types.js';
import { captureModelState, loadCheckpoint } from './checkpoint.js';
import { runPaths, TrainOptions, trainModel, TrainOutcome } from './loop.js';
import type { LossTerm } from './state.js';
import { randomHorizontalFlip as flip, syntheticSquaresSplit, TinySegNet } from './synthetic.js';
import { unlabeledView } from './unlabeled.js';

let root: string;
let runCount = 0;
beforeAll(async () => {
  await tf.setBackend('cpu');
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'lvit-loop-'));
});
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

const train = syntheticSquaresSplit({ size: 6, seed: 1 });
const val = syntheticSquaresSplit({ size: 3, seed: 2, split: 'val', emptyFraction: 0.3 });
const unlabeled = unlabeledView(syntheticSquaresSplit({ size: 3, seed: 3 }));

/** Pulls unlabeled predictions towards per-image targets kept in the run state. */
const pseudoTerm: LossTerm = {
  name: 'pseudo',
  weight: 0.5,
  appliesTo: 'unlabeled',
  compute: ({ pred, ids, state }) => {
    const pixels = pred.shape[1] * pred.shape[2];
    const targets = new Float32Array(ids.length * pixels);
    ids.forEach((id, i) => targets.set(state.perImage.get(id) ?? new Float32Array(pixels).fill(0.5), i * pixels));
    return tf.mean(tf.square(tf.sub(pred, tf.tensor4d(targets, pred.shape)))) as tf.Scalar;
  },
};

function options(overrides: Partial<TrainOptions> = {}): TrainOptions {
  return {
    model: new TinySegNet({ seed: 11, dropout: 0.2 }),
    data: { train, val, unlabeled },
    augment: flip,
    batchSize: 3,
    maxEpochs: 3,
    patience: 10,
    lr0: 0.05,
    t0: 3,
    minSaveEpoch: 1,
    seed: 5,
    runDir: path.join(root, `run${runCount++}`),
    extraTerms: [pseudoTerm],
    hooks: {
      // Per-image state driven by the hook's own seeded stream: it must survive a resume.
      onEpochEnd: ({ state, rng }) => {
        for (const id of unlabeled.ids) state.perImage.set(id, new Float32Array(train.height * train.width).fill(rng.next()));
      },
    },
    log: () => {},
    ...overrides,
  };
}

const withoutTime = (curves: EpochRecord[]) => curves.map(({ timeSec: _t, ...rest }) => rest);

async function runToEnd(opts: TrainOptions): Promise<{ outcome: TrainOutcome; weights: Record<string, number[]> }> {
  const outcome = await trainModel(opts);
  const weights = Object.fromEntries(Object.entries(captureModelState(opts.model)).map(([k, v]) => [k, Array.from(v.data)]));
  return { outcome, weights };
}

describe('trainModel', () => {
  let reference: Awaited<ReturnType<typeof runToEnd>>;
  let referenceDir: string;

  it('runs, logs one record per epoch, checkpoints, and restores the best weights', async () => {
    const opts = options();
    referenceDir = opts.runDir;
    reference = await runToEnd(opts);
    const { outcome } = reference;
    expect(outcome.epochsRun).toBe(3);
    expect(outcome.curves.map((c) => c.epoch)).toEqual([1, 2, 3]);
    const lrs = [0.05, 1e-4 + (0.05 - 1e-4) * 0.75, 1e-4 + (0.05 - 1e-4) * 0.25];
    outcome.curves.forEach((c, i) => expect(c.lr).toBeCloseTo(lrs[i], 12));
    for (const c of outcome.curves) {
      expect(Number.isFinite(c.trainLoss) && Number.isFinite(c.valLoss!)).toBe(true);
      expect(Object.keys(c.terms!).sort()).toEqual(['diceBCE', 'pseudo']);
    }
    const best = outcome.curves.reduce((a, b) => (b.valDice > a.valDice ? b : a));
    expect(outcome.bestEpoch).toBe(best.epoch);
    expect(outcome.bestValDice).toBe(best.valDice);
    const paths = runPaths(opts.runDir);
    expect(outcome.bestCheckpoint).toBe(paths.best);
    const lines = fs.readFileSync(paths.log, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(withoutTime(lines)).toEqual(withoutTime(outcome.curves));
    // The model now holds the best checkpoint's weights.
    const bestCkpt = await loadCheckpoint(paths.best);
    expect(bestCkpt.loop!.epoch).toBe(outcome.bestEpoch);
    for (const [k, v] of Object.entries(bestCkpt.model)) expect(reference.weights[k]).toEqual(Array.from(v.data));
    const last = await loadCheckpoint(paths.last);
    expect(last.loop!.epoch).toBe(3);
    expect([...Object.keys(last.blobs!)].sort()).toEqual(unlabeled.ids.map((id) => `perImage/${id}`).sort());
  });

  it('is deterministic: the same seed gives identical curves and weights; another seed does not', async () => {
    const again = await runToEnd(options());
    expect(withoutTime(again.outcome.curves)).toEqual(withoutTime(reference.outcome.curves));
    expect(again.weights).toEqual(reference.weights);
    const other = await runToEnd(options({ seed: 6 }));
    expect(withoutTime(other.outcome.curves)).not.toEqual(withoutTime(reference.outcome.curves));
  });

  it('resumes after a crash mid-epoch and ends exactly like the uninterrupted run', async () => {
    const runDir = path.join(root, 'crashed');
    const crashing = options({
      runDir,
      hooks: {
        ...options().hooks,
        onStepEnd: ({ epoch, step }) => {
          if (epoch === 2 && step === 2) throw new Error('injected fault');
        },
      },
    });
    await expect(trainModel(crashing)).rejects.toThrow('injected fault');
    expect((await loadCheckpoint(runPaths(runDir).last)).loop!.epoch).toBe(1);
    // A new process would build a fresh model; its init is overwritten by the checkpoint.
    const resumed = await runToEnd(options({ runDir, resume: true, model: new TinySegNet({ seed: 99, dropout: 0.2 }) }));
    expect(withoutTime(resumed.outcome.curves)).toEqual(withoutTime(reference.outcome.curves));
    expect(resumed.outcome.bestEpoch).toBe(reference.outcome.bestEpoch);
    expect(resumed.weights).toEqual(reference.weights);
    const lastA = await loadCheckpoint(runPaths(referenceDir).last);
    const lastB = await loadCheckpoint(runPaths(runDir).last);
    expect(lastB.loop!.rng).toEqual(lastA.loop!.rng);
    for (const [k, v] of Object.entries(lastA.blobs!)) expect(Array.from(lastB.blobs![k])).toEqual(Array.from(v));
    const lines = fs.readFileSync(runPaths(runDir).log, 'utf8').trim().split('\n');
    expect(lines.length).toBe(3);
  });

  it('refuses to overwrite a run without resume, and refuses to resume a different run', async () => {
    await expect(trainModel(options({ runDir: referenceDir }))).rejects.toThrow(/exists; pass resume: true/);
    await expect(trainModel(options({ runDir: referenceDir, resume: true, batchSize: 2 }))).rejects.toThrow(/different run/);
  });

  it('stops early when epochs since the best exceed patience; with no qualifying epoch the last weights become best', async () => {
    // minSaveEpoch 10 > maxEpochs: best_epoch stays at its initial 1, so the count is epoch - 1.
    const opts = options({ data: { train, val }, extraTerms: [], hooks: {}, maxEpochs: 5, patience: 1, minSaveEpoch: 10, maxStepsPerEpoch: 1 });
    const { outcome, weights } = await runToEnd(opts);
    expect(outcome.earlyStopped).toBe(true);
    expect(outcome.epochsRun).toBe(3);
    expect(outcome.bestEpoch).toBe(3);
    const best = await loadCheckpoint(outcome.bestCheckpoint);
    for (const [k, v] of Object.entries(best.model)) expect(weights[k]).toEqual(Array.from(v.data));
    // Resuming a finished run trains nothing more.
    const again = await trainModel({ ...opts, resume: true, model: new TinySegNet({ seed: 1, dropout: 0.2 }) });
    expect(again.epochsRun).toBe(3);
    expect(withoutTime(again.curves)).toEqual(withoutTime(outcome.curves));
  });

  it('passes [B,T,D] text features to a text model and rejects a text model without them', async () => {
    const textModel = new TinySegNet({ seed: 3, textDim: 2 });
    const seen: number[] = [];
    const textFeatures = (text: string) => {
      seen.push(text.length);
      return new Float32Array(6).fill(text.length / 100);
    };
    const base = options({ model: textModel, data: { train, val }, extraTerms: [], hooks: {}, maxEpochs: 1, maxStepsPerEpoch: 1 });
    const outcome = await trainModel({ ...base, textFeatures, textShape: [3, 2] });
    expect(outcome.epochsRun).toBe(1);
    expect(seen.length).toBe(3 + val.size);
    await expect(trainModel({ ...base, runDir: path.join(root, 'notext') })).rejects.toThrow(/textFeatures and textShape are required/);
  });
});
