/**
 * Per-image Dice and IoU in the two conventions of the official code (LVIT.md §4):
 *
 * - 'test' (`test_model.py`): pred = prob > 0.5; Dice = 2 Σ lp / (Σ l + Σ p + 1e-5), so an empty
 *   ground truth with an empty prediction scores 0; IoU = sklearn `jaccard_score`, 0 when both are
 *   empty (its zero_division default).
 * - 'val' (`_show_dice`, `iou_on_batch` during training): pred = prob >= 0.5, mask = mask > 0;
 *   Dice = (2 Σ lp + 4e-5) / (Σ l + Σ p + 4e-5) (the loss's smoothing, see losses.ts), so empty/empty
 *   scores 1; IoU as in 'test'.
 *
 * The paper's numbers (and RESULTS.md's) are the mean of per-image scores. Several later text-guided
 * papers (LanGuideMedSeg, MMI-UNet) instead pool TP/FP/FN over the whole test set before dividing
 * (`pooledScores`), which scores the same predictions much higher; the two are never comparable.
 */

export type MetricConvention = 'test' | 'val';

export interface ImageScore {
  dice: number;
  iou: number;
}

const TEST_DICE_EPS = 1e-5;
const VAL_DICE_SMOOTH = 4e-5;

/** Pixel counts of one image (or, summed, of a test set) at the convention's thresholds. */
export interface OverlapCounts {
  truePos: number;
  predPos: number;
  labelPos: number;
}

export function countOverlap(prob: ArrayLike<number>, mask: ArrayLike<number>, convention: MetricConvention): OverlapCounts {
  if (prob.length !== mask.length) {
    throw new Error(`train/metrics.ts: prediction has ${prob.length} pixels but the mask has ${mask.length}`);
  }
  const isPred = convention === 'test' ? (v: number) => v > 0.5 : (v: number) => v >= 0.5;
  const isLabel = convention === 'test' ? (v: number) => v > 0.5 : (v: number) => v > 0;
  let truePos = 0;
  let predPos = 0;
  let labelPos = 0;
  for (let i = 0; i < prob.length; i++) {
    const p = isPred(prob[i]);
    const l = isLabel(mask[i]);
    if (p) predPos++;
    if (l) labelPos++;
    if (p && l) truePos++;
  }
  return { truePos, predPos, labelPos };
}

/** sklearn jaccard_score for binary labels: TP / (TP + FP + FN), 0 when the union is empty. */
function jaccard({ truePos, predPos, labelPos }: OverlapCounts): number {
  const union = predPos + labelPos - truePos;
  return union === 0 ? 0 : truePos / union;
}

/** Dice and IoU of one image at threshold 0.5. `prob` are probabilities, `mask` the 0/1 ground truth. */
export function scoreImage(prob: ArrayLike<number>, mask: ArrayLike<number>, convention: MetricConvention): ImageScore {
  return scoreCounts(countOverlap(prob, mask, convention), convention);
}

/** Dice and IoU of one image from its counts (see the conventions above). */
export function scoreCounts(counts: OverlapCounts, convention: MetricConvention): ImageScore {
  const { truePos, predPos, labelPos } = counts;
  const dice =
    convention === 'test'
      ? (2 * truePos) / (labelPos + predPos + TEST_DICE_EPS)
      : (2 * truePos + VAL_DICE_SMOOTH) / (labelPos + predPos + VAL_DICE_SMOOTH);
  return { dice, iou: jaccard(counts) };
}

/** Mean Dice and IoU over images (the official per-image average). */
export function meanScores(scores: readonly ImageScore[]): ImageScore {
  if (scores.length === 0) throw new Error('train/metrics.ts meanScores: no scores to average');
  let dice = 0;
  let iou = 0;
  for (const s of scores) {
    dice += s.dice;
    iou += s.iou;
  }
  return { dice: dice / scores.length, iou: iou / scores.length };
}

/** Element-wise sum of per-image counts (the pooled convention's numerator and denominators). */
function sumCounts(counts: readonly OverlapCounts[]): OverlapCounts {
  const total = { truePos: 0, predPos: 0, labelPos: 0 };
  for (const c of counts) {
    total.truePos += c.truePos;
    total.predPos += c.predPos;
    total.labelPos += c.labelPos;
  }
  return total;
}

/**
 * Pooled ("global", "micro") Dice and IoU: TP, FP and FN summed over all images first, then
 * Dice = 2 TP / (2 TP + FP + FN), IoU = TP / (TP + FP + FN); 0 when nothing is predicted or labelled
 * anywhere. No smoothing term: over a whole test set it would change nothing visible.
 */
export function pooledScores(counts: readonly OverlapCounts[]): ImageScore {
  if (counts.length === 0) throw new Error('train/metrics.ts pooledScores: no images to pool');
  const total = sumCounts(counts);
  const sizes = total.labelPos + total.predPos;
  return { dice: sizes === 0 ? 0 : (2 * total.truePos) / sizes, iou: jaccard(total) };
}
