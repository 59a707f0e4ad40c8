import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pythonModulesMissing, REFERENCE_PYTHON, skipOutsideCi } from '@lvit-bench/core';
import { maskToSize, readModelInput, readModelMask } from './model-input.js';

/**
 * `lvit predict`'s preprocessing against OpenCV itself (the official loader: cv2.imread, cv2.resize
 * INTER_LINEAR, /255) on a staged MoNuSeg test tile and on a user-style odd-size RGBA PNG and JPEG.
 */
const DATA = join(process.env.LVIT_DATA_ROOT ?? '/work/shared/data', 'monuseg', 'test');
const TILE = 'TCGA-2Z-A9J9-01A-01-TS1.png';
let tmp: string;

/** cv2's uint8 result for `path` at `size`, BGR HWC. */
function cv2Resized(path: string, size: number): Uint8Array {
  const script = `import cv2,sys; im=cv2.imread(sys.argv[1]); sys.stdout.buffer.write(cv2.resize(im,(${size},${size})).tobytes())`;
  return new Uint8Array(execFileSync(REFERENCE_PYTHON, ['-c', script, path], { maxBuffer: 1 << 26 }));
}

/** OpenCV is the reference: these tests skip without it (with the apt line), except under CI, which must run them. */
const skip = skipOutsideCi('model-input.test.ts', pythonModulesMissing(['cv2'], 'python3-opencv'));

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'lvit-model-input-'));
  const tile = sharp(join(DATA, 'images', TILE)).extract({ left: 100, top: 50, width: 333, height: 217 });
  await tile.clone().ensureAlpha().png().toFile(join(tmp, 'odd.png'));
  await tile.clone().jpeg({ quality: 90 }).toFile(join(tmp, 'odd.jpg'));
});

afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe.skipIf(skip)('readModelInput', () => {
  for (const [what, file] of [['staged test tile', () => join(DATA, 'images', TILE)], ['odd-size RGBA PNG', () => join(tmp, 'odd.png')]] as const) {
    it(`${what}: bit-exact with cv2.imread + cv2.resize, /255, BGR`, async () => {
      const got = await readModelInput(file(), 64, 'bgr');
      const want = cv2Resized(file(), 64);
      expect(got.input.length).toBe(want.length);
      let maxDiff = 0;
      for (let i = 0; i < want.length; i++) maxDiff = Math.max(maxDiff, Math.abs(got.input[i] - Math.fround(want[i] / 255)));
      expect(maxDiff).toBe(0);
    });
  }

  it('a JPEG of odd size: within 2 grey levels of cv2 (the two libjpeg builds round the IDCT differently)', async () => {
    const file = join(tmp, 'odd.jpg');
    const got = await readModelInput(file, 64, 'bgr');
    expect([got.width, got.height]).toEqual([333, 217]);
    expect(got.rgb.length).toBe(333 * 217 * 3);
    const want = cv2Resized(file, 64);
    let maxDiff = 0;
    for (let i = 0; i < want.length; i++) maxDiff = Math.max(maxDiff, Math.abs(Math.round(got.input[i] * 255) - want[i]));
    expect(maxDiff).toBeLessThanOrEqual(2);
  });
});

describe('readModelInput errors', () => {
  it('names the file it cannot read or decode', async () => {
    await expect(readModelInput(join(tmp, 'missing.png'), 64, 'bgr')).rejects.toThrow(/missing\.png: cannot read image \(ENOENT\)/);
    writeFileSync(join(tmp, 'notes.png'), 'not an image');
    await expect(readModelInput(join(tmp, 'notes.png'), 64, 'bgr')).rejects.toThrow(/notes\.png: cannot decode image/);
  });
});

describe('masks', () => {
  it('readModelMask thresholds the resized mask at > 0, like evaluation', async () => {
    const { mask, width } = await readModelMask(join(DATA, 'masks', TILE), 32);
    expect(width).toBe(1000);
    expect(new Set(mask)).toEqual(new Set([0, 1]));
  });

  it('maskToSize brings a model-size mask back to the file size', () => {
    const small = Uint8Array.from([1, 0, 0, 1]);
    const big = maskToSize(small, 2, 4, 6);
    expect(big.length).toBe(24);
    expect(big[0]).toBe(1); // top-left corner stays foreground
    expect(big[3]).toBe(0); // top-right background
    expect(big[23]).toBe(1); // bottom-right foreground
  });
});
