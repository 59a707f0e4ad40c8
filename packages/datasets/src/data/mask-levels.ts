/**
 * Are the masks two-level? LViT binarises a mask after the bilinear resize with `> 0` (LVIT.md
 * §3.5), and so do we. That is exact for a clean {0, 255} mask, but a blurred, anti-aliased or
 * JPEG-compressed mask has grey levels that all become foreground: a blurred mask doubled the
 * foreground in one probe. The rule stays; each decoded mask (native resolution) is inspected, and
 * what is found is kept per file in the prepared split, so a cached load reports it as well:
 * - 'not-two-level': more than one non-zero level -> a warning per split (an error in strict mode);
 * - 'foreground-level': one non-zero level other than 255 (e.g. 0/1 masks) -> a note. They are two-level,
 *   but the 8-bit bilinear resize rounds a low level mixed with 0 down to 0 (cv2 does the same: a
 *   3x3 block at 12x10 -> 8x8 keeps 9 pixels as 0/255 and 5 as 0/1), so they come out thinner.
 */
import { join } from 'node:path';
import type { SplitName } from './prepared.js';

export interface MaskFinding {
  /** The mask file, relative to the dataset folder. */
  mask: string;
  kind: 'not-two-level' | 'foreground-level';
  /** Distinct grey levels in the mask, 0 included when present. */
  levels: number;
  /** The largest grey level. */
  foreground: number;
  /** Fraction of pixels strictly between 0 and `foreground`. */
  between: number;
}

/** What is unusual about a decoded grey mask, or undefined for a clean {0, 255} (or one-level) mask. */
export function inspectMaskLevels(grey: Uint8Array, mask: string): MaskFinding | undefined {
  const histogram = new Uint32Array(256);
  for (let i = 0; i < grey.length; i++) histogram[grey[i]]++;
  let levels = 0;
  let nonZero = 0;
  let foreground = 0;
  for (let v = 0; v < 256; v++) {
    if (histogram[v] === 0) continue;
    levels++;
    if (v > 0) nonZero++;
    foreground = v;
  }
  if (nonZero === 0 || (nonZero === 1 && foreground === 255)) return undefined;
  let between = 0;
  for (let v = 1; v < foreground; v++) between += histogram[v];
  return { mask, kind: nonZero > 1 ? 'not-two-level' : 'foreground-level', levels, foreground, between: between / grey.length };
}

function describe(f: MaskFinding, datasetDir: string | undefined): string {
  const path = datasetDir === undefined ? f.mask : join(datasetDir, f.mask);
  return f.kind === 'not-two-level'
    ? `${path} (${f.levels} grey levels, ${(100 * f.between).toFixed(1)}% of pixels between 0 and ${f.foreground})`
    : `${path} (foreground ${f.foreground})`;
}

/** The error strict mode raises for a mask that is not two-level. */
export function notTwoLevelError(f: MaskFinding, datasetDir: string | undefined): Error {
  return new Error(
    `${describe(f, datasetDir)}: mask is not two-level (blurred, anti-aliased or lossy?); > 0 would count every grey pixel as ` +
      'foreground. Strict mask checking is on (--strict-masks / strictMasks); fix the mask or drop the option to only warn.',
  );
}

/**
 * One warning per split with masks that are not two-level, and one note per split with 0/1-style
 * masks, each with a count and an example file. `total` is the number of masks of the split.
 */
export function maskLevelMessages(
  split: SplitName,
  findings: readonly MaskFinding[],
  total: number,
  datasetDir: string | undefined,
): { warnings: string[]; notes: string[] } {
  const notTwoLevel = findings.filter((f) => f.kind === 'not-two-level');
  const otherLevel = findings.filter((f) => f.kind === 'foreground-level');
  const warnings: string[] = [];
  const notes: string[] = [];
  if (notTwoLevel.length > 0) {
    warnings.push(
      `${split}: ${notTwoLevel.length} of ${total} masks are not two-level, e.g. ${describe(notTwoLevel[0], datasetDir)}; ` +
        'they are binarised with > 0 as LViT does, which counts every grey pixel as foreground (--strict-masks makes this an error).',
    );
  }
  if (otherLevel.length > 0) {
    const levels = [...new Set(otherLevel.map((f) => f.foreground))].sort((a, b) => a - b);
    notes.push(
      `${split}: ${otherLevel.length} of ${total} masks store foreground as ${levels.join('/')} instead of 255, e.g. ` +
        `${describe(otherLevel[0], datasetDir)}; two-level, but the bilinear resize rounds a low level mixed with 0 down to 0, ` +
        'so after > 0 they come out thinner than the same masks stored as 0/255 (LViT\'s loader does the same).',
    );
  }
  return { warnings, notes };
}
