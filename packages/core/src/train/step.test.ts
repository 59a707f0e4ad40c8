import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '../rng.js';
import { makeBatch } from './batch.js';
import { captureModelState } from './checkpoint.js';
import { weightedDiceBCE } from './losses.js';
import { Adam } from './optim.js';
import { createRunState, LossTerm } from './state.js';
import { trainStep, trainStepAsync } from './step.js';
import { syntheticSquaresSplit, TinySegNet } from './synthetic.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const split = syntheticSquaresSplit({ size: 4, seed: 3 });
const meanPred: LossTerm = { name: 'meanPred', weight: 0.3, appliesTo: 'all', compute: ({ pred }) => tf.mean(pred) as tf.Scalar };

function setup() {
  const model = new TinySegNet({ seed: 8 });
  const optimizer = new Adam(model.namedParameters(), { lr: 1e-2 });
  const batch = makeBatch([0, 1, 2].map((i) => split.sample(i)), split, false, {});
  return { model, optimizer, batch };
}

describe('trainStep', () => {
  it('minimises diceBCE + weight * extra term and reports each term unweighted', () => {
    const { model, optimizer, batch } = setup();
    const expected = tf.tidy(() => {
      const pred = model.forward(batch.images, null, { training: true });
      return [weightedDiceBCE(pred, batch.masks).dataSync()[0], tf.mean(pred).dataSync()[0]];
    });
    const before = captureModelState(model);
    const out = trainStep({ model, optimizer, images: batch.images, masks: batch.masks, text: null, rng: new Rng(1), extraTerms: [meanPred] });
    expect(out.terms.diceBCE).toBeCloseTo(expected[0], 6);
    expect(out.terms.meanPred).toBeCloseTo(expected[1], 6);
    expect(out.loss).toBeCloseTo(expected[0] + 0.3 * expected[1], 6);
    const after = captureModelState(model);
    expect(Array.from(after['head.weight'].data)).not.toEqual(Array.from(before['head.weight'].data));
    // BatchNorm running statistics moved too (train-mode forward).
    expect(Array.from(after['body.norm.running_mean'].data)).not.toEqual(Array.from(before['body.norm.running_mean'].data));
  });

  it('trainStepAsync takes the same step and reads the same result, prediction included', async () => {
    const a = setup();
    const b = setup();
    const args = (s: ReturnType<typeof setup>) => ({ model: s.model, optimizer: s.optimizer, images: s.batch.images, masks: s.batch.masks, text: null, rng: new Rng(1), extraTerms: [meanPred], keepPrediction: true });
    const n = tf.memory().numTensors;
    const sync = trainStep(args(a));
    const async = await trainStepAsync(args(b));
    expect(tf.memory().numTensors).toBe(n);
    expect(async).toEqual(sync);
    expect(async.prediction?.length).toBe(3 * split.height * split.width);
    expect(captureModelState(b.model)['head.weight'].data).toEqual(captureModelState(a.model)['head.weight'].data);
  });

  it('leaks no tensors', () => {
    const { model, optimizer, batch } = setup();
    trainStep({ model, optimizer, images: batch.images, masks: batch.masks, text: null, rng: new Rng(1) });
    const n = tf.memory().numTensors;
    trainStep({ model, optimizer, images: batch.images, masks: batch.masks, text: null, rng: new Rng(1), extraTerms: [meanPred] });
    expect(tf.memory().numTensors).toBe(n);
  });

  it('unlabeled batches use only unlabeled/all terms, and need one', () => {
    const { model, optimizer, batch } = setup();
    const state = createRunState();
    const onlyLabeled: LossTerm = { ...meanPred, appliesTo: 'labeled' };
    const info = { ids: ['a', 'b', 'c'], labeled: false, state };
    expect(() => trainStep({ model, optimizer, images: batch.images, masks: null, text: null, rng: new Rng(1), extraTerms: [onlyLabeled], batchInfo: info })).toThrow(
      /no loss applies/,
    );
    let seen: { masks: unknown; ids: string[] } | null = null;
    const unl: LossTerm = {
      name: 'unl',
      weight: 2,
      appliesTo: 'unlabeled',
      compute: (ctx) => {
        seen = { masks: ctx.masks, ids: ctx.ids };
        return tf.mean(ctx.pred) as tf.Scalar;
      },
    };
    const out = trainStep({ model, optimizer, images: batch.images, masks: null, text: null, rng: new Rng(1), extraTerms: [unl, onlyLabeled], batchInfo: info });
    expect(Object.keys(out.terms)).toEqual(['unl']);
    expect(out.loss).toBeCloseTo(2 * out.terms.unl, 6);
    expect(seen).toEqual({ masks: null, ids: ['a', 'b', 'c'] });
  });
});
