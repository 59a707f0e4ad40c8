import * as tf from '@tensorflow/tfjs';

/**
 * LViT's training loss, `WeightedDiceBCE(dice_weight=0.5, BCE_weight=0.5)` (LVIT.md §2.1, §8):
 *
 *   loss = 0.5 * mean_b [1 - (2 Σ p t + 4e-5) / (Σ p² + Σ t² + 4e-5)]
 *        + 0.5 * [0.5 * mean(BCE | t > 0.5) + 0.5 * mean(BCE | t < 0.5)]   (over the whole batch)
 *
 * The official Dice multiplies p and t by a constant weight 0.5 and uses smooth 1e-5; dividing
 * through by 0.25 gives the 4e-5 form above. BCE is taken on probabilities (the models end in a
 * sigmoid) with torch's clamp of log at -100, and torch's backward (p - t) / max(p (1 - p), 1e-12),
 * which stays finite where float32 sigmoid saturates to exactly 0 or 1.
 */

const DICE_SMOOTH = 4e-5;
const LOG_FLOOR = -100;
const BCE_GRAD_EPS = 1e-12;
const COUNT_EPS = 1e-12;

function checkShapes(pred: tf.Tensor, target: tf.Tensor, fn: string): void {
  if (pred.rank !== 4 || !tf.util.arraysEqual(pred.shape, target.shape)) {
    throw new Error(
      `train/losses.ts ${fn}: pred ${JSON.stringify(pred.shape)} and target ${JSON.stringify(target.shape)} must be equal [B,H,W,1] shapes`,
    );
  }
}

/** Per-pixel binary cross-entropy on probabilities, torch semantics in value and gradient. */
export const binaryCrossEntropy: (p: tf.Tensor, t: tf.Tensor) => tf.Tensor = tf.customGrad(
  (...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [p, t, save] = args as [tf.Tensor, tf.Tensor, tf.GradSaveFunc];
    save([p, t]);
    const logP = tf.maximum(tf.log(p), LOG_FLOOR);
    const log1mP = tf.maximum(tf.log(tf.sub(1, p)), LOG_FLOOR);
    const value = tf.neg(tf.add(tf.mul(t, logP), tf.mul(tf.sub(1, t), log1mP)));
    const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [sp, st] = saved;
      const denom = tf.maximum(tf.mul(sp, tf.sub(1, sp)), BCE_GRAD_EPS);
      return [tf.mul(dy, tf.div(tf.sub(sp, st), denom)), tf.zerosLike(st)];
    };
    return { value, gradFunc };
  },
) as (p: tf.Tensor, t: tf.Tensor) => tf.Tensor;

/** Mean over the batch of the per-sample squared-denominator soft Dice loss (`WeightedDiceLoss`). */
export function softDiceLoss(pred: tf.Tensor4D, target: tf.Tensor4D): tf.Scalar {
  checkShapes(pred, target, 'softDiceLoss');
  return tf.tidy(() => {
    const b = pred.shape[0];
    const p = tf.reshape(pred, [b, -1]);
    const t = tf.reshape(target, [b, -1]);
    const intersection = tf.sum(tf.mul(p, t), 1);
    const union = tf.add(tf.sum(tf.square(p), 1), tf.sum(tf.square(t), 1));
    const dice = tf.div(tf.add(tf.mul(intersection, 2), DICE_SMOOTH), tf.add(union, DICE_SMOOTH));
    return tf.mean(tf.sub(1, dice)) as tf.Scalar;
  });
}

/** `WeightedBCE([0.5, 0.5])`: class-balanced BCE over every pixel of the batch. */
export function balancedBCELoss(pred: tf.Tensor4D, target: tf.Tensor4D): tf.Scalar {
  checkShapes(pred, target, 'balancedBCELoss');
  return tf.tidy(() => {
    const p = tf.reshape(pred, [-1]);
    const t = tf.reshape(target, [-1]);
    const bce = binaryCrossEntropy(p, t);
    const pos = tf.cast(tf.greater(t, 0.5), 'float32');
    const neg = tf.cast(tf.less(t, 0.5), 'float32');
    const posMean = tf.div(tf.sum(tf.mul(pos, bce)), tf.add(tf.sum(pos), COUNT_EPS));
    const negMean = tf.div(tf.sum(tf.mul(neg, bce)), tf.add(tf.sum(neg), COUNT_EPS));
    return tf.add(tf.mul(posMean, 0.5), tf.mul(negMean, 0.5)) as tf.Scalar;
  });
}

/** The official loss: 0.5 soft Dice + 0.5 class-balanced BCE. pred, target [B,H,W,1]; pred in [0,1]. */
export function weightedDiceBCE(pred: tf.Tensor4D, target: tf.Tensor4D): tf.Scalar {
  checkShapes(pred, target, 'weightedDiceBCE');
  return tf.tidy(() => tf.add(tf.mul(softDiceLoss(pred, target), 0.5), tf.mul(balancedBCELoss(pred, target), 0.5)) as tf.Scalar);
}
