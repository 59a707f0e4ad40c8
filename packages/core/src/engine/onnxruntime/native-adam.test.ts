import { describe, expect, it } from 'vitest';
import { skipOutsideCi } from '../../io/prerequisite.js';
import { Rng } from '../../rng.js';
import { updateOne } from './kernels/adam.js';
import { nativeAdam, nativeAdamStatus } from './native.js';

/** native/adam.cc against the JS loop it replaces: the same arithmetic in the same order, so the same bits. */
const addon = nativeAdam();
const skip = skipOutsideCi('native-adam.test.ts', addon ? null : `the native Adam addon is not in use (${nativeAdamStatus()})`);

function seeded(n: number, rng: Rng, scale: number, positive = false): Float32Array {
  return Float32Array.from({ length: n }, () => (positive ? rng.next() : rng.next() - 0.5) * scale);
}

/** The first index whose bits differ, -1 if none. */
function firstDifference(a: Float32Array, b: Float32Array): number {
  const [x, y] = [new Uint32Array(a.buffer, a.byteOffset, a.length), new Uint32Array(b.buffer, b.byteOffset, b.length)];
  if (x.length !== y.length) return 0;
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return i;
  return -1;
}

describe.skipIf(skip)('native Adam (native/adam.cc)', () => {
  // Sizes that split mid-parameter over the threads, and tiny ones; > 65536 elements in all, so threads are used.
  const sizes = [70_001, 3, 1, 40_000, 17];
  const hyper = { beta1: 0.9, beta2: 0.999, eps: 1e-8 };

  for (const threads of [1, 2, 3]) {
    it(`is bit-identical to the JS loop over several parameters (${threads} thread${threads > 1 ? 's' : ''})`, () => {
      const rng = new Rng(threads);
      const params = sizes.map((n) => ({ p: seeded(n, rng, 2), m: seeded(n, rng, 0.1), v: seeded(n, rng, 0.01, true), g: seeded(n, rng, 1) }));
      const stepSizes = sizes.map((_, i) => 1e-3 / (1 - hyper.beta1 ** (i + 1)));
      const invs = sizes.map((_, i) => 1 / Math.sqrt(1 - hyper.beta2 ** (i + 1)));
      const native = params.map(({ p }) => [0, 1, 2].map(() => new Float32Array(p.length)));
      const js = params.map(({ p }) => [0, 1, 2].map(() => new Float32Array(p.length)));
      addon!.adamStep(
        params.flatMap(({ p, m, v, g }, i) => [p, m, v, g, ...native[i]]),
        Float64Array.from(stepSizes),
        Float64Array.from(invs),
        Float64Array.of(hyper.beta1, hyper.beta2, hyper.eps),
        threads,
      );
      params.forEach(({ p, m, v, g }, i) => updateOne(p, m, v, g, js[i], hyper.beta1, hyper.beta2, hyper.eps, stepSizes[i], invs[i]));
      for (let i = 0; i < params.length; i++) for (let k = 0; k < 3; k++) expect(firstDifference(native[i][k], js[i][k]), `parameter ${i}, output ${k}`).toBe(-1);
      expect(native[0][0].some((x, i) => x !== params[0].p[i])).toBe(true); // it moved
    });
  }

  it('rejects arrays of different lengths and non-float32 arrays, naming the problem', () => {
    const a = new Float32Array(4);
    const hy = Float64Array.of(0.9, 0.999, 1e-8);
    expect(() => addon!.adamStep([a, a, a, a, a, a, new Float32Array(3)], Float64Array.of(1), Float64Array.of(1), hy, 2)).toThrow(/one length/);
    expect(() => addon!.adamStep([a, a, a, a, a, a, new Float64Array(4) as unknown as Float32Array], Float64Array.of(1), Float64Array.of(1), hy, 2)).toThrow(/Float32Array/);
    expect(() => addon!.adamStep([a, a, a, a, a, a, a], Float64Array.of(1, 2), Float64Array.of(1, 2), hy, 2)).toThrow(/7 Float32Arrays per parameter/);
  });
});
