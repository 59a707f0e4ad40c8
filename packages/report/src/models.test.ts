import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildReport } from './build.js';
import { STANDARD_RUNS, writeFixtureRuns } from './fixtures.test-util.js';

/**
 * Model downloads: U-Net's seed 2 has the better validation Dice (but the lower test Dice), so its
 * model is the one published; LViT-T's seeds tie on validation Dice, so seed 1's; LViT-TW has no
 * exported model and gets no link.
 */
let tmp: string;
let html: string;
const bytes: Record<string, Buffer> = {};

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'lvit-models-'));
  const files = await writeFixtureRuns(join(tmp, 'runs'), STANDARD_RUNS);
  STANDARD_RUNS.forEach((r, i) => {
    if (r.model === 'lvit-tw') return;
    if (r.model === 'unet' && r.seed === 2) {
      const result = JSON.parse(readFileSync(files[i], 'utf8'));
      result.val.bestDice = 0.9;
      writeFileSync(files[i], JSON.stringify(result));
    }
    const model = Buffer.from(`fake onnx of ${r.model} seed ${r.seed} `.repeat(100 * r.seed));
    bytes[`${r.model}/s${r.seed}`] = model;
    writeFileSync(join(dirname(files[i]), 'model.onnx'), model);
  });
  const outcome = await buildReport({ runsDir: join(tmp, 'runs'), outDir: join(tmp, 'site') });
  html = readFileSync(outcome.indexHtml, 'utf8');
});

afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('model downloads', () => {
  it('links the best-validation seed of each row, with its size and sha256, and copies the file', () => {
    const unet = bytes['unet/s2'];
    const href = 'assets/models/grp-monuseg-smoke-unet-f100.onnx';
    expect(readFileSync(join(tmp, 'site', href)).equals(unet)).toBe(true);
    const link = new RegExp(`<a href="${href}" download title="run smoke/monuseg/unet/f100/s2[^"]*">ONNX, seed 2, ${(unet.length / 1024).toFixed(0)} KiB</a> <span class="sha256">sha256 <code>${sha(unet)}</code>`);
    expect(html).toMatch(link);
  });

  it('a validation tie goes to the lowest seed', () => {
    expect(html).toContain(`ONNX, seed 1, ${(bytes['lvit-t/s1'].length / 1024).toFixed(0)} KiB`);
    expect(html).toContain(sha(bytes['lvit-t/s1']));
    expect(html).not.toContain(sha(bytes['lvit-t/s2']));
  });

  it('a row without an exported model has no link and no file', () => {
    expect(existsSync(join(tmp, 'site', 'assets/models/grp-monuseg-smoke-lvit-tw-f50.onnx'))).toBe(false);
    expect(html.match(/class="download"/g)).toHaveLength(2);
  });
});
