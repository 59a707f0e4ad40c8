import { describe, expect, it } from 'vitest';
import { Rng } from './rng.js';

describe('Rng.fillBernoulliZeros', () => {
  it('draws exactly what the next() loop draws, and leaves the same state behind', () => {
    for (const p of [0, 0.1, 0.5, 0.999]) {
      const fast = new Rng(42);
      const slow = new Rng(42);
      const got = new Float32Array(10_000);
      fast.fillBernoulliZeros(got, p, 1.25);
      const want = Float32Array.from(got, () => (slow.next() < p ? 0 : 1.25));
      expect(got).toEqual(want);
      expect(fast.getState()).toBe(slow.getState());
    }
  });

  it('drops about a fraction p', () => {
    const out = new Float32Array(100_000);
    new Rng(7).fillBernoulliZeros(out, 0.3, 2);
    const zeros = out.filter((v) => v === 0).length;
    expect(Math.abs(zeros - 30_000)).toBeLessThan(5 * Math.sqrt(100_000 * 0.3 * 0.7));
    expect(out.every((v) => v === 0 || v === 2)).toBe(true);
  });
});
