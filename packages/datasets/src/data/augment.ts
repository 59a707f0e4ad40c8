/**
 * LViT's training augmentation (`Load_Dataset.py` `RandomGenerator`, LVIT.md §2.1):
 *
 *   if random() > 0.5:   k = randint(0, 4); rot90(k); flip(axis = randint(0, 2))
 *   elif random() > 0.5: angle = randint(-20, 20)  (numpy: -20..19 degrees)
 *                        scipy.ndimage.rotate(order=0, reshape=False) on image and mask
 *   else: unchanged
 *
 * The text is not changed (so "left"/"upper" may contradict the augmented image, as in the
 * official code). Draws come from the suite's seeded `Rng` in the same order as the official
 * code draws them; the official code used Python `random` and numpy, so streams differ.
 */
import { remapPixels, type GeometricAugment, type PixelMap, type Rng, type SegSample } from '@lvit-bench/core';

/** Which transform one call applied (for tests and logs). */
export type LViTAugmentation =
  | { kind: 'none' }
  | { kind: 'rot90-flip'; k: number; axis: 0 | 1 }
  | { kind: 'rotate'; angleDeg: number };

/** Draw the transform exactly in the official order of random calls. */
export function drawLViTAugmentation(rng: Rng): LViTAugmentation {
  if (rng.next() > 0.5) {
    const k = rng.int(4);
    const axis = rng.int(2) as 0 | 1;
    return { kind: 'rot90-flip', k, axis };
  }
  if (rng.next() > 0.5) return { kind: 'rotate', angleDeg: -20 + rng.int(40) };
  return { kind: 'none' };
}

/**
 * Source index map for numpy `flip(rot90(a, k), axis)` on a square n x n grid:
 * out[r][c] = a[map[r*n+c]].
 */
export function rot90FlipIndexMap(n: number, k: number, axis: 0 | 1): Int32Array {
  const map = new Int32Array(n * n);
  for (let r = 0; r < n; r++) {
    for (let c = 0; c < n; c++) {
      // Undo the flip first (it was applied last).
      const fr = axis === 0 ? n - 1 - r : r;
      const fc = axis === 1 ? n - 1 - c : c;
      // np.rot90(a, k) rotates counter-clockwise: rot90(a,1)[i][j] = a[j][n-1-i].
      let sr: number;
      let sc: number;
      switch (((k % 4) + 4) % 4) {
        case 0: [sr, sc] = [fr, fc]; break;
        case 1: [sr, sc] = [fc, n - 1 - fr]; break;
        case 2: [sr, sc] = [n - 1 - fr, n - 1 - fc]; break;
        default: [sr, sc] = [n - 1 - fc, fr];
      }
      map[r * n + c] = sr * n + sc;
    }
  }
  return map;
}

/** scipy's `special.cosdg`/`sindg` are exact at multiples of 90 degrees; so are these. */
function cosSinDeg(angleDeg: number): [number, number] {
  const a = ((angleDeg % 360) + 360) % 360;
  if (a === 0) return [1, 0];
  if (a === 90) return [0, 1];
  if (a === 180) return [-1, 0];
  if (a === 270) return [0, -1];
  const rad = (angleDeg * Math.PI) / 180;
  return [Math.cos(rad), Math.sin(rad)];
}

/**
 * Source index map for `scipy.ndimage.rotate(a, angle, order=0, reshape=False, mode='constant')`
 * on an H x W grid: -1 where the output is the constant 0.
 * scipy pulls each output pixel o from input R·(o - c) + c, R = [[cos, sin], [-sin, cos]],
 * c = ((H-1)/2, (W-1)/2); order 0 takes floor(x + 0.5); coordinates outside [0, len-1] give cval.
 */
export function rotateNearestIndexMap(height: number, width: number, angleDeg: number): Int32Array {
  const [cos, sin] = cosSinDeg(angleDeg);
  const cr = (height - 1) / 2;
  const cc = (width - 1) / 2;
  // offset = in_center - R @ out_center, as scipy computes it.
  const offR = cr - (cos * cr + sin * cc);
  const offC = cc - (-sin * cr + cos * cc);
  const map = new Int32Array(height * width);
  for (let r = 0; r < height; r++) {
    for (let c = 0; c < width; c++) {
      const ir = cos * r + sin * c + offR;
      const ic = -sin * r + cos * c + offC;
      if (ir < 0 || ir > height - 1 || ic < 0 || ic > width - 1) {
        map[r * width + c] = -1;
      } else {
        map[r * width + c] = Math.floor(ir + 0.5) * width + Math.floor(ic + 0.5);
      }
    }
  }
  return map;
}

/** The pixel map of one drawn transform on an H x W grid (null for 'none'). */
export function lvitAugmentationMap(height: number, width: number, aug: LViTAugmentation): PixelMap {
  if (aug.kind === 'none') return null;
  if (aug.kind === 'rotate') return rotateNearestIndexMap(height, width, aug.angleDeg);
  if (height !== width) throw new Error(`augment: rot90 needs a square image, got ${height}x${width}`);
  return rot90FlipIndexMap(height, aug.k, aug.axis);
}

/** Apply one drawn transform to a sample (new arrays; the input is not modified). */
export function applyLViTAugmentation(
  sample: SegSample,
  height: number,
  width: number,
  channels: number,
  aug: LViTAugmentation,
): SegSample {
  if (sample.image.length !== height * width * channels || sample.mask.length !== height * width) {
    throw new Error(
      `augment ${sample.id}: image has ${sample.image.length} values and mask ${sample.mask.length}, ` +
        `expected ${height}x${width}x${channels} and ${height}x${width}`,
    );
  }
  const map = lvitAugmentationMap(height, width, aug);
  return {
    id: sample.id,
    image: remapPixels(sample.image, map, channels),
    mask: remapPixels(sample.mask, map, 1),
    text: sample.text,
  };
}

/**
 * LViT's RandomGenerator on one training sample: p 0.5 rot90 (k in 0..3) + flip along a random
 * axis; else p 0.5 rotation by an integer angle in [-20, 19] degrees with nearest interpolation
 * (zero fill, same size); else unchanged. The text is unchanged. Needs a square image (LViT's are).
 */
export function augmentLViT(sample: SegSample, height: number, width: number, channels: number, rng: Rng): SegSample {
  if (height !== width) throw new Error(`augmentLViT ${sample.id}: needs a square image, got ${height}x${width}`);
  return applyLViTAugmentation(sample, height, width, channels, drawLViTAugmentation(rng));
}

/**
 * The same augmentation as `augmentLViT`, as a pixel map for the training loop (which applies it
 * to image, mask and per-image state alike). Same draws, same order.
 */
export const lvitAugment: GeometricAugment = (height, width, rng) => {
  if (height !== width) throw new Error(`lvitAugment: needs a square image, got ${height}x${width}`);
  return lvitAugmentationMap(height, width, drawLViTAugmentation(rng));
};
