import type { Rng } from '../rng.js';

/**
 * A geometric augmentation as a pixel map over an H x W grid: output pixel p takes source pixel
 * `map[p]`, or 0 where `map[p]` is -1 (zero fill outside a rotated image). `null` is the identity.
 *
 * Expressing augmentations this way lets one draw move the image, its mask and any per-image
 * state (EPI's pseudo-labels, an LV contrastive mask) identically, and lets a prediction made in
 * the augmented frame be mapped back to the image's own frame.
 */
export type PixelMap = Int32Array | null;

/** Draws one augmentation for an H x W image from `rng`. */
export type GeometricAugment = (height: number, width: number, rng: Rng) => PixelMap;

/** `src` ([H*W*channels], HWC) seen through `map`; a new array (the input is never modified). */
export function remapPixels<T extends Float32Array | Uint8Array>(src: T, map: PixelMap, channels: number): T {
  if (map === null) return src.slice() as T;
  if (src.length !== map.length * channels) {
    throw new Error(`train/pixel-map.ts remapPixels: ${src.length} values do not fit a ${map.length}-pixel map with ${channels} channels`);
  }
  const out = new (src.constructor as new (n: number) => T)(src.length);
  for (let p = 0; p < map.length; p++) {
    const s = map[p];
    if (s < 0) continue;
    for (let ch = 0; ch < channels; ch++) out[p * channels + ch] = src[s * channels + ch];
  }
  return out;
}

/**
 * The inverse direction for one-channel maps: `values` live in the augmented frame; returns, per
 * source pixel, the mean of the values that came from it and whether any did. Source pixels no
 * output pixel came from (rotated out of view) have `hit` 0: callers keep their old value there.
 */
export function unmapPixels(values: Float32Array, map: PixelMap): { values: Float32Array; hit: Uint8Array } {
  if (map === null) return { values: values.slice(), hit: new Uint8Array(values.length).fill(1) };
  if (values.length !== map.length) {
    throw new Error(`train/pixel-map.ts unmapPixels: ${values.length} values for a ${map.length}-pixel map`);
  }
  const sum = new Float32Array(values.length);
  const count = new Uint16Array(values.length);
  for (let p = 0; p < map.length; p++) {
    const s = map[p];
    if (s < 0) continue;
    sum[s] += values[p];
    count[s] += 1;
  }
  const hit = new Uint8Array(values.length);
  for (let s = 0; s < sum.length; s++) {
    if (count[s] > 0) {
      sum[s] /= count[s];
      hit[s] = 1;
    }
  }
  return { values: sum, hit };
}
