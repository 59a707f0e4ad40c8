import * as tf from '@tensorflow/tfjs';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '../rng.js';
import { captureModelState } from './checkpoint.js';
import type { EvaluateResult } from './evaluate.js';
import { TrainOptions, trainModel } from './loop.js';
import { syntheticSquaresSplit, TinySegNet } from './synthetic.js';

/**
 * Best-checkpoint selection and early stopping against the official rule (LVIT.md §2.1,
 * train_model.py l.169-189), with the validation Dice scripted through the loop's `evaluate` seam.
 */

let root: string;
let runs = 0;
beforeAll(async () => {
  await tf.setBackend('cpu');
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'lvit-selection-'));
});
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

const train = syntheticSquaresSplit({ size: 2, seed: 1 });
const val = syntheticSquaresSplit({ size: 2, seed: 2, split: 'val' });

interface Official {
  bestEpoch: number;
  epochsRun: number;
  earlyStopped: boolean;
  /** Per epoch run: whether a best checkpoint was saved. */
  saved: boolean[];
}

/** The official loop, transcribed line for line (0-based `epoch`, max_dice = 0, best_epoch = 1). */
function officialSelection(dices: number[], minSaveEpoch: number, patience: number): Official {
  let maxDice = 0;
  let bestEpoch = 1;
  const saved: boolean[] = [];
  for (let epoch = 0; epoch < dices.length; epoch++) {
    const valDice = dices[epoch];
    let save = false;
    if (valDice > maxDice) {
      if (epoch + 1 > minSaveEpoch) {
        maxDice = valDice;
        bestEpoch = epoch + 1;
        save = true;
      }
    }
    saved.push(save);
    const earlyStoppingCount = epoch - bestEpoch + 1;
    if (earlyStoppingCount > patience) return { bestEpoch, epochsRun: epoch + 1, earlyStopped: true, saved };
  }
  return { bestEpoch, epochsRun: dices.length, earlyStopped: false, saved };
}

interface Observed {
  bestEpoch: number;
  bestValDice: number;
  epochsRun: number;
  earlyStopped: boolean;
  saved: boolean[];
  /** The weights the model holds after trainModel returns, and those it held after each epoch. */
  finalWeights: Record<string, number[]>;
  weightsAfter: Record<string, number[]>[];
  logs: string[];
}

/**
 * The loop's outcome must be the official one. Where no epoch qualified, upstream saves no model;
 * this loop keeps the last weights as best and reports the last epoch (loop.ts finish()).
 */
function expectOfficial(got: Observed, dices: number[], minSaveEpoch: number, patience: number): void {
  const want = officialSelection(dices, minSaveEpoch, patience);
  const label = `dices ${dices.join(',')} minSaveEpoch ${minSaveEpoch} patience ${patience}`;
  const qualified = want.saved.includes(true);
  const { bestEpoch, epochsRun, earlyStopped, saved } = got;
  expect({ bestEpoch, epochsRun, earlyStopped, saved }, label).toEqual({ ...want, bestEpoch: qualified ? want.bestEpoch : want.epochsRun });
  expect(got.finalWeights, label).toEqual(got.weightsAfter[(qualified ? want.bestEpoch : want.epochsRun) - 1]);
}

const weightsOf = (model: TinySegNet) => Object.fromEntries(Object.entries(captureModelState(model)).map(([k, v]) => [k, Array.from(v.data)]));

/** Trains one step per epoch on tiny data; epoch e's validation Dice is dices[e - 1]. */
async function runScripted(dices: number[], minSaveEpoch: number, patience: number): Promise<Observed> {
  const model = new TinySegNet({ seed: 4 });
  let calls = 0;
  const evaluate = async (): Promise<EvaluateResult> => {
    const dice = dices[calls++];
    return { dice, iou: dice / (2 - dice), loss: 1 - dice, perImage: [], predictions: new Map() };
  };
  const saved: boolean[] = [];
  const weightsAfter: Record<string, number[]>[] = [];
  const logs: string[] = [];
  const opts: TrainOptions = {
    model,
    data: { train, val },
    batchSize: 2,
    maxEpochs: dices.length,
    patience,
    minSaveEpoch,
    lr0: 0.05,
    seed: 3,
    runDir: path.join(root, `run${runs++}`),
    evaluate,
    hooks: {
      onEpochEnd: ({ isBest }) => {
        saved.push(isBest);
        weightsAfter.push(weightsOf(model));
      },
    },
    log: (m) => logs.push(m),
  };
  const outcome = await trainModel(opts);
  const observed = { ...outcome, saved, finalWeights: weightsOf(model), weightsAfter, logs };
  model.dispose();
  return observed;
}

describe('best checkpoint and early stopping follow the official rule', () => {
  it('a scripted Dice sequence: minSaveEpoch gate, strict improvement (ties lose), counter reset, stop', async () => {
    //               epoch:  1    2    3    4    5    6     7    8    9    10   11   12
    const dices = /* val */ [0.9, 0.5, 0.3, 0.4, 0.4, 0.35, 0.45, 0.1, 0.1, 0.1, 0.9, 0.9];
    const got = await runScripted(dices, 2, 2);
    // Epochs 1-2 are gated although epoch 1 is the highest; 5 ties 4 and does not count; 7 resets
    // the counter (else the run would stop at epoch 7), and 10 is the third epoch without improvement.
    expect(got.saved).toEqual([false, false, true, true, false, false, true, false, false, false]);
    expect(got).toMatchObject({ bestEpoch: 7, bestValDice: 0.45, epochsRun: 10, earlyStopped: true });
    expect(got.logs.filter((l) => l.includes('early stop'))).toEqual([expect.stringMatching(/^epoch 10\/12 .* early stop: 3 epochs without improvement$/)]);
    expectOfficial(got, dices, 2, 2);
    // The model ends with epoch 7's weights, which differ from the last epoch's.
    expect(got.finalWeights).toEqual(got.weightsAfter[6]);
    expect(got.finalWeights).not.toEqual(got.weightsAfter[9]);
  });

  it('patience 0 stops at the first epoch that is not a new best; best_epoch starts at 1 before the gate opens', async () => {
    // Epoch 2 is gated (minSaveEpoch 3), so best_epoch is still 1 and 2 - 1 = 1 > 0.
    const got = await runScripted([0.2, 0.3, 0.4, 0.5], 3, 0);
    expect(got).toMatchObject({ epochsRun: 2, earlyStopped: true, saved: [false, false] });
    expectOfficial(got, [0.2, 0.3, 0.4, 0.5], 3, 0);
  });

  it('matches the transcribed official loop on seeded random sequences with ties', async () => {
    const rng = new Rng(8);
    for (let trial = 0; trial < 6; trial++) {
      // Dice from a few levels, so ties and plateaus are common.
      const dices = Array.from({ length: 9 }, () => [0.2, 0.4, 0.6, 0.8][rng.int(4)]);
      const minSaveEpoch = rng.int(4);
      const patience = 1 + rng.int(3);
      expectOfficial(await runScripted(dices, minSaveEpoch, patience), dices, minSaveEpoch, patience);
    }
  });
});
