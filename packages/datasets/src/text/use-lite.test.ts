import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { openTextEncoder } from './encoder.js';
import { encodeReports } from './features.js';
import type { TextEncoder } from './types.js';

const QATA_A = 'Bilateral pulmonary infection, two infected areas, all left lung and all right lung.';
const QATA_B = 'Unilateral pulmonary infection, one infected area, upper middle left lung.';
const MONUSEG = 'The nuclei are evenly distributed.';

let encoder: TextEncoder;
/** Why the model could not run here (the tests then skip with this reason), or null. */
let unavailable: string | null = null;

beforeAll(async () => {
  await tf.setBackend('cpu');
  try {
    encoder = await openTextEncoder('use-lite');
    await encoder.encodeWords(['warm up']);
  } catch (err) {
    unavailable = (err as Error).message;
  }
});

afterAll(async () => {
  await encoder?.dispose();
});

/**
 * USE-lite is the default encoder behind every LViT-T result here, so in CI (CI=true) a load failure
 * fails the tests; elsewhere (a machine without the npm package's model, say) they skip with the reason.
 */
function skipIfUnavailable(ctx: { skip: (note?: string) => void }): void {
  if (!unavailable) return;
  if (process.env.CI) throw new Error(`USE-lite could not load, and CI must run it: ${unavailable}`);
  ctx.skip(`USE-lite could not load: ${unavailable}`);
}

describe('use-lite (USE-lite per-token states in a child process)', () => {
  test('loads, or the suite says why not', (ctx) => {
    skipIfUnavailable(ctx);
    expect(encoder.info).toMatchObject({ name: 'use-lite', dim: 512, pretrained: true, substitute: true });
  });

  test('[N, 10, 512]; different sentences give different features; the same sentence the same', async (ctx) => {
    skipIfUnavailable(ctx);
    const out = await encodeReports([QATA_A, QATA_B, MONUSEG, QATA_A], encoder);
    expect(out.length).toBe(4 * 10 * 512);
    const sample = (n: number) => out.subarray(n * 5120, (n + 1) * 5120);
    expect(sample(0).every(Number.isFinite)).toBe(true);
    const rms = (a: Float32Array, b: Float32Array) => Math.sqrt(a.reduce((s, v, i) => s + (v - b[i]) ** 2, 0) / a.length);
    expect(rms(sample(0), sample(1))).toBeGreaterThan(1e-3);
    expect(rms(sample(0), sample(2))).toBeGreaterThan(1e-3);
    expect(rms(sample(0), sample(3))).toBe(0);
    // 10 SentencePiece words cover all of a QaTa sentence's first 10 words: no zero rows.
    expect(sample(0).subarray(9 * 512).some((v) => v !== 0)).toBe(true);
  });

  test('words are merged at ▁ and a sentence does not depend on its batch', async (ctx) => {
    skipIfUnavailable(ctx);
    const [alone] = await encoder.encodeWords([MONUSEG]);
    expect(alone.words).toEqual(['The', 'nuclei', 'are', 'evenly', 'distributed.']);
    const [, batched] = await encoder.encodeWords([QATA_A, MONUSEG]);
    expect(Array.from(batched.vectors)).toEqual(Array.from(alone.vectors));
    // A same-length sibling (left <-> right) is batched with it: still bit-identical to alone.
    const sibling = QATA_A.replace('all left', 'all right');
    const [qataAlone] = await encoder.encodeWords([QATA_A]);
    const [siblingOut, qataBatched] = await encoder.encodeWords([sibling, QATA_A]);
    expect(siblingOut.words.length).toBe(qataAlone.words.length);
    expect(Array.from(qataBatched.vectors)).toEqual(Array.from(qataAlone.vectors));
    expect(Array.from(siblingOut.vectors)).not.toEqual(Array.from(qataAlone.vectors));
  });

  test("it leaves this process's tfjs engine alone", (ctx) => {
    skipIfUnavailable(ctx);
    expect(tf.getBackend()).toBe('cpu');
    expect(tf.getKernelsForBackend('wasm').length).toBe(0);
  });
});
