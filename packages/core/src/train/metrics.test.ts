import { describe, expect, it } from 'vitest';
import { countOverlap, meanScores, pooledScores, scoreImage } from './metrics.js';
import { cosineWarmRestartLr } from './schedule.js';

describe('scoreImage', () => {
  const empty = [0, 0, 0, 0];

  it('empty prediction on empty ground truth: 0 in test, 1 in val (Dice); IoU 0 in both', () => {
    expect(scoreImage([0.1, 0.2, 0.3, 0.4], empty, 'test')).toEqual({ dice: 0, iou: 0 });
    expect(scoreImage([0.1, 0.2, 0.3, 0.4], empty, 'val')).toEqual({ dice: 1, iou: 0 });
  });

  it('empty ground truth with a false positive scores 0', () => {
    expect(scoreImage([0.9, 0, 0, 0], empty, 'test')).toEqual({ dice: 0, iou: 0 });
    const val = scoreImage([0.9, 0, 0, 0], empty, 'val');
    expect(val.dice).toBeCloseTo(4e-5 / (1 + 4e-5), 12);
    expect(val.iou).toBe(0);
  });

  it('perfect prediction', () => {
    const mask = [1, 1, 0, 0];
    const test = scoreImage([0.9, 0.8, 0.1, 0], mask, 'test');
    expect(test.dice).toBeCloseTo(4 / (4 + 1e-5), 12);
    expect(test.iou).toBe(1);
    expect(scoreImage([0.9, 0.8, 0.1, 0], mask, 'val')).toEqual({ dice: 1, iou: 1 });
  });

  it('disjoint prediction', () => {
    const mask = [1, 1, 0, 0];
    expect(scoreImage([0, 0, 1, 1], mask, 'test')).toEqual({ dice: 0, iou: 0 });
    const val = scoreImage([0, 0, 1, 1], mask, 'val');
    expect(val.dice).toBeCloseTo(4e-5 / (4 + 4e-5), 12);
    expect(val.iou).toBe(0);
  });

  it('partial overlap: Dice 2TP/(|L|+|P|), IoU TP/union', () => {
    // mask 3 pixels, prediction 2 pixels, 1 shared: Dice 2/5, IoU 1/4.
    const mask = [1, 1, 1, 0, 0];
    const prob = [0.7, 0.2, 0.4, 0.6, 0];
    const test = scoreImage(prob, mask, 'test');
    expect(test.dice).toBeCloseTo(2 / (5 + 1e-5), 12);
    expect(test.iou).toBeCloseTo(0.25, 12);
    expect(scoreImage(prob, mask, 'val').dice).toBeCloseTo((2 + 4e-5) / (5 + 4e-5), 12);
  });

  it('threshold: exactly 0.5 is foreground in val (>=) and background in test (>)', () => {
    expect(scoreImage([0.5], [1], 'val').iou).toBe(1);
    expect(scoreImage([0.5], [1], 'test').iou).toBe(0);
  });

  it('rejects a size mismatch', () => {
    expect(() => scoreImage([0.1, 0.2], [1], 'test')).toThrow(/train\/metrics\.ts/);
  });

  it('meanScores averages per image', () => {
    expect(meanScores([{ dice: 1, iou: 0.5 }, { dice: 0, iou: 0.25 }])).toEqual({ dice: 0.5, iou: 0.375 });
    expect(() => meanScores([])).toThrow(/no scores/);
  });
});

describe('pooledScores (TP/FP/FN summed over the test set)', () => {
  // Image A: mask 3 px, prediction 2 px, 1 shared (TP 1, FP 1, FN 2).
  const a = { prob: [0.7, 0.2, 0.4, 0.6, 0], mask: [1, 1, 1, 0, 0] };
  // Image B: mask 4 px, all predicted, one extra (TP 4, FP 1, FN 0).
  const b = { prob: [0.9, 0.9, 0.9, 0.9, 0.9], mask: [1, 1, 1, 1, 0] };
  // Image C: empty mask, empty prediction (per image: Dice 0 in the test convention).
  const c = { prob: [0.1, 0.1, 0.1, 0.1, 0.1], mask: [0, 0, 0, 0, 0] };
  const counts = [a, b, c].map((x) => countOverlap(x.prob, x.mask, 'test'));

  it('hand-computed: TP 5, FP 2, FN 2 -> Dice 10/14, IoU 5/9', () => {
    const pooled = pooledScores(counts);
    expect(pooled.dice).toBeCloseTo(10 / 14, 12);
    expect(pooled.iou).toBeCloseTo(5 / 9, 12);
  });

  it('differs from the per-image mean on the same images (the empty image pulls only the mean down)', () => {
    const mean = meanScores([a, b, c].map((x) => scoreImage(x.prob, x.mask, 'test')));
    // Per image: 2/5, 8/9, 0 (empty/empty scores 0) -> mean 0.4296...
    expect(mean.dice).toBeCloseTo((2 / (5 + 1e-5) + 8 / (9 + 1e-5) + 0) / 3, 9);
    expect(pooledScores(counts).dice - mean.dice).toBeGreaterThan(0.25);
  });

  it('an empty-mask image with a false positive adds to FP only', () => {
    const fp = countOverlap([0.9, 0.9, 0, 0, 0], [0, 0, 0, 0, 0], 'test');
    expect(fp).toEqual({ truePos: 0, predPos: 2, labelPos: 0 });
    const pooled = pooledScores([...counts, fp]);
    expect(pooled.dice).toBeCloseTo(10 / 16, 12);
    expect(pooled.iou).toBeCloseTo(5 / 11, 12);
  });

  it('all images empty and predicted empty: 0, as sklearn zero_division', () => {
    expect(pooledScores([counts[2], counts[2]])).toEqual({ dice: 0, iou: 0 });
    expect(() => pooledScores([])).toThrow(/no images/);
  });
});

describe('cosineWarmRestartLr', () => {
  it('reproduces the sequence of LVIT.md §2.1 for lr0 = 1e-3', () => {
    const expected = [1e-3, 9.7798e-4, 9.1406e-4, 8.145e-4, 6.8906e-4, 5.5e-4, 4.1094e-4, 2.855e-4, 1.8594e-4, 1.2202e-4];
    for (let e = 0; e < 20; e++) {
      const lr = cosineWarmRestartLr(e, 1e-3);
      expect(Math.abs(lr - expected[e % 10]) / expected[e % 10]).toBeLessThan(1e-4);
    }
  });

  it('reproduces the lr0 = 3e-4 end points', () => {
    expect(cosineWarmRestartLr(0, 3e-4)).toBeCloseTo(3e-4, 12);
    expect(cosineWarmRestartLr(1, 3e-4)).toBeCloseTo(2.9511e-4, 8);
    expect(cosineWarmRestartLr(9, 3e-4)).toBeCloseTo(1.0489e-4, 8);
    expect(cosineWarmRestartLr(10, 3e-4)).toBeCloseTo(3e-4, 12);
  });

  it('honours t0 and floor', () => {
    expect(cosineWarmRestartLr(2, 1, { t0: 4, floor: 0 })).toBeCloseTo(0.5, 12);
    expect(cosineWarmRestartLr(4, 1, { t0: 4, floor: 0 })).toBe(1);
    expect(() => cosineWarmRestartLr(-1, 1)).toThrow(/schedule/);
  });
});
