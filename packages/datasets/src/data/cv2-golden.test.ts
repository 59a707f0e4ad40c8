import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { decodeImageBytes, decodeMaskBytes } from './decode.js';
import { resolveDataRoot } from './paths.js';
import { resizeLinearU8, thresholdMask, type ImageU8 } from './resize.js';

/**
 * The preprocessing of load.ts (decode as cv2.imread, cv2.resize INTER_LINEAR, mask > 0) against real
 * OpenCV: test-golden/make_golden.py ran Debian's python3-opencv on small crops of staged MoNuSeg and
 * QaTa images and masks (at the real pipeline's scale factors 1000→224, 1000→128, 224→128, plus an odd
 * size for OpenCV's scalar tail) and committed digests of its outputs, no pixels. This test crops the
 * same staged files (so it needs the data, not OpenCV). Exact: the sha256 of our bytes must be OpenCV's;
 * per-row byte sums say where a mismatch is. Regenerate with
 * `/usr/bin/python3 packages/datasets/test-golden/make_golden.py`.
 */
const GOLDEN = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'test-golden');

interface GoldenOutput {
  size: [number, number];
  sha256: string;
  rowSums: number[];
  maskSha256?: string;
}
interface GoldenCase {
  case: string;
  kind: 'image' | 'mask';
  source: string;
  crop: { x: number; y: number; size: number };
  channels: number;
  outputs: GoldenOutput[];
}
const manifest = JSON.parse(readFileSync(join(GOLDEN, 'golden.json'), 'utf8')) as { opencv: string; cases: GoldenCase[] };
const rows = manifest.cases.flatMap((c) => c.outputs.map((o) => ({ ...c, ...o, label: `${c.case} ${o.size[0]}x${o.size[1]}` })));

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

function crop(img: ImageU8, x: number, y: number, size: number): ImageU8 {
  const data = new Uint8Array(size * size * img.channels);
  for (let r = 0; r < size; r++) data.set(img.data.subarray(((y + r) * img.width + x) * img.channels, ((y + r) * img.width + x + size) * img.channels), r * size * img.channels);
  return { data, width: size, height: size, channels: img.channels };
}

/** Byte sum of each row, as make_golden.py writes them. */
function rowSums(img: ImageU8): number[] {
  const rowLength = img.width * img.channels;
  return Array.from({ length: img.height }, (_, r) => img.data.subarray(r * rowLength, (r + 1) * rowLength).reduce((a, b) => a + b, 0));
}

describe(`preprocessing = OpenCV ${manifest.opencv} on crops of the staged data (digests in test-golden/)`, () => {
  test('the goldens cover MoNuSeg and QaTa, images and masks, 3 sizes', () => {
    expect(new Set(manifest.cases.map((c) => c.case))).toEqual(new Set(['monuseg-image', 'monuseg-mask', 'qata-image', 'qata-mask']));
    expect(rows.length).toBe(8);
  });

  test.each(rows)('$label: decode + cv2.resize INTER_LINEAR, byte for byte', async (r) => {
    const file = join(resolveDataRoot(), r.source);
    const bytes = new Uint8Array(readFileSync(file));
    const full = r.kind === 'image' ? await decodeImageBytes(bytes, file, 'bgr') : await decodeMaskBytes(bytes, file);
    expect(full.channels).toBe(r.channels);
    const [w, h] = r.size;
    const ours = resizeLinearU8(crop(full, r.crop.x, r.crop.y, r.crop.size), w, h);
    expect(ours.data.length).toBe(w * h * r.channels);
    expect(rowSums(ours), 'per-row byte sums vs OpenCV').toEqual(r.rowSums);
    expect(sha256(ours.data)).toBe(r.sha256);
    if (r.kind === 'mask') expect(sha256(thresholdMask(ours.data))).toBe(r.maskSha256);
  });
});
