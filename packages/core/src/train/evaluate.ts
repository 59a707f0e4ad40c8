import * as tf from '@tensorflow/tfjs';
import type { PerImageScore, SegmentationModel, SegSplit } from '../types.js';
import { checkTextInput, disposeBatch, makeBatch, TextInput } from './batch.js';
import { weightedDiceBCE } from './losses.js';
import { countOverlap, ImageScore, meanScores, MetricConvention, OverlapCounts, pooledScores, scoreCounts } from './metrics.js';

export interface EvaluateOptions extends TextInput {
  batchSize?: number;
  convention: MetricConvention;
  /** Ids whose binary prediction (0/1 per pixel, [H*W]) should be returned. */
  keepPredictions?: string[];
  /** Also compute the training loss, averaged over images (batch losses weighted by batch size). */
  withLoss?: boolean;
}

export interface EvaluateResult {
  /** Mean of per-image scores (the paper's convention). */
  dice: number;
  iou: number;
  /** TP/FP/FN pooled over the split, then Dice/IoU once (metrics.ts `pooledScores`). */
  pooled: ImageScore;
  loss?: number;
  perImage: PerImageScore[];
  predictions: Map<string, Uint8Array>;
}

/** Binary mask of one prediction under the convention's threshold (test: > 0.5, val: >= 0.5). */
function binarise(prob: Float32Array, convention: MetricConvention): Uint8Array {
  const out = new Uint8Array(prob.length);
  for (let i = 0; i < prob.length; i++) out[i] = (convention === 'test' ? prob[i] > 0.5 : prob[i] >= 0.5) ? 1 : 0;
  return out;
}

/** Run the model in eval mode over a split; per-image Dice/IoU at 0.5, their means and the pooled scores. */
export async function evaluateModel(model: SegmentationModel, split: SegSplit, opts: EvaluateOptions): Promise<EvaluateResult> {
  if (split.size === 0) throw new Error(`train/evaluate.ts: split ${split.dataset}/${split.split} is empty`);
  checkTextInput(model.usesText, opts, 'evaluateModel');
  const batchSize = opts.batchSize ?? 1;
  const keep = new Set(opts.keepPredictions ?? []);
  const pixels = split.height * split.width;
  const perImage: PerImageScore[] = [];
  const counts: OverlapCounts[] = [];
  const predictions = new Map<string, Uint8Array>();
  let lossSum = 0;

  for (let start = 0; start < split.size; start += batchSize) {
    const samples = [];
    for (let i = start; i < Math.min(start + batchSize, split.size); i++) samples.push(split.sample(i));
    const batch = makeBatch(samples, split, model.usesText, opts);
    try {
      const pred = tf.tidy(() => model.forward(batch.images, batch.text, { training: false }));
      const probs = (await pred.data()) as Float32Array;
      if (probs.length !== samples.length * pixels) {
        pred.dispose();
        throw new Error(`train/evaluate.ts: model output ${JSON.stringify(pred.shape)} does not match ${samples.length} masks of ${split.height}x${split.width}`);
      }
      if (opts.withLoss) {
        const loss = tf.tidy(() => weightedDiceBCE(pred, batch.masks));
        lossSum += (await loss.data())[0] * samples.length;
        loss.dispose();
      }
      pred.dispose();
      samples.forEach((s, i) => {
        const prob = probs.subarray(i * pixels, (i + 1) * pixels);
        const c = countOverlap(prob, s.mask, opts.convention);
        counts.push(c);
        perImage.push({ id: s.id, ...scoreCounts(c, opts.convention) });
        if (keep.has(s.id)) predictions.set(s.id, binarise(prob, opts.convention));
      });
    } finally {
      disposeBatch(batch);
    }
  }
  const mean = meanScores(perImage);
  const result: EvaluateResult = { dice: mean.dice, iou: mean.iou, pooled: pooledScores(counts), perImage, predictions };
  if (opts.withLoss) result.loss = lossSum / split.size;
  return result;
}
