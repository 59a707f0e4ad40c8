import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { decodeImageBytes, decodeMaskBytes } from './decode.js';
import { resizeLinearU8, thresholdMask } from './resize.js';

/**
 * The preprocessing of load.ts (decode as cv2.imread, cv2.resize INTER_LINEAR, mask > 0) against real
 * OpenCV: test-golden/make_golden.py ran Debian's python3-opencv on small crops of MoNuSeg and QaTa
 * images and masks (at the real pipeline's scale factors 1000→224, 1000→128, 224→128, plus an odd size
 * for OpenCV's scalar tail) and committed its outputs. Exact: every byte must equal OpenCV's.
 * Regenerate with `/usr/bin/python3 packages/datasets/test-golden/make_golden.py` (the goldens are
 * committed, so this test needs neither OpenCV nor the data).
 */
const GOLDEN = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'test-golden');

interface GoldenCase {
  case: string;
  kind: 'image' | 'mask';
  source: string;
  channels: number;
  sizes: [number, number][];
}
const manifest = JSON.parse(readFileSync(join(GOLDEN, 'golden.json'), 'utf8')) as { opencv: string; cases: GoldenCase[] };
const rows = manifest.cases.flatMap((c) => c.sizes.map(([w, h]) => ({ ...c, w, h, label: `${c.case} ${w}x${h}` })));

/** Positions where `ours` differs from OpenCV's bytes (first few), and how many. */
function mismatches(ours: Uint8Array, cv: Uint8Array): { count: number; first: string[] } {
  const first: string[] = [];
  let count = 0;
  for (let i = 0; i < cv.length; i++) {
    if (ours[i] === cv[i]) continue;
    count++;
    if (first.length < 5) first.push(`#${i}: ${ours[i]} vs cv2 ${cv[i]}`);
  }
  return { count, first };
}

describe(`preprocessing = OpenCV ${manifest.opencv} on committed crops (test-golden/)`, () => {
  test('the goldens cover MoNuSeg and QaTa, images and masks, 3 sizes', () => {
    expect(new Set(manifest.cases.map((c) => c.case))).toEqual(new Set(['monuseg-image', 'monuseg-mask', 'qata-image', 'qata-mask']));
    expect(rows.length).toBe(8);
  });

  test.each(rows)('$label: decode + cv2.resize INTER_LINEAR, byte for byte', async (r) => {
    const bytes = new Uint8Array(readFileSync(join(GOLDEN, `${r.case}.src.png`)));
    const src = r.kind === 'image' ? await decodeImageBytes(bytes, `${r.case}.src.png`, 'bgr') : await decodeMaskBytes(bytes, `${r.case}.src.png`);
    expect(src.channels).toBe(r.channels);
    const ours = resizeLinearU8(src, r.w, r.h);
    const cv = new Uint8Array(readFileSync(join(GOLDEN, `${r.case}.${r.w}x${r.h}.u8`)));
    expect(ours.data.length).toBe(cv.length);
    expect(mismatches(ours.data, cv)).toEqual({ count: 0, first: [] });
    if (r.kind === 'mask') {
      const cvMask = new Uint8Array(readFileSync(join(GOLDEN, `${r.case}.${r.w}x${r.h}.mask.u8`)));
      expect(mismatches(thresholdMask(ours.data), cvMask)).toEqual({ count: 0, first: [] });
    }
  });
});
