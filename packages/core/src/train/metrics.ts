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
 * Reported numbers are the mean of per-image scores.
 */

export type MetricConvention = 'test' | 'val';

export interface ImageScore {
  dice: number;
  iou: number;
}

const TEST_DICE_EPS = 1e-5;
const VAL_DICE_SMOOTH = 4e-5;

interface Counts {
  truePos: number;
  predPos: number;
  labelPos: number;
}

function countOverlap(prob: ArrayLike<number>, mask: ArrayLike<number>, convention: MetricConvention): Counts {
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
function jaccard({ truePos, predPos, labelPos }: Counts): number {
  const union = predPos + labelPos - truePos;
  return union === 0 ? 0 : truePos / union;
}

/** Dice and IoU of one image at threshold 0.5. `prob` are probabilities, `mask` the 0/1 ground truth. */
export function scoreImage(prob: ArrayLike<number>, mask: ArrayLike<number>, convention: MetricConvention): ImageScore {
  const counts = countOverlap(prob, mask, convention);
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
