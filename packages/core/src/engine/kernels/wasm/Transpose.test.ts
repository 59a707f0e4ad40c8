import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '../../../rng.js';
import { loadWasmBackend, unloadWasmBackend } from '../../wasm-loader.js';
import { isPatched, patchWasmForTraining } from '../index.js';
import { seededValues } from '../reference.js';
import { collapseTranspose, singleAxisMoves } from './Transpose.js';

/** out[i] = x[source], out coordinate c maps to input coordinate with x_axis perm[k] = c_k. */
function naiveTranspose(x: ArrayLike<number>, shape: number[], perm: number[]): number[] {
  const outShape = perm.map((a) => shape[a]);
  const strides = shape.map((_, i) => shape.slice(i + 1).reduce((p, d) => p * d, 1));
  const out: number[] = [];
  const size = x.length;
  for (let flat = 0; flat < size; flat++) {
    let rest = flat;
    let src = 0;
    for (let k = outShape.length - 1; k >= 0; k--) {
      const coord = rest % outShape[k];
      rest = Math.floor(rest / outShape[k]);
      src += coord * strides[perm[k]];
    }
    out.push(x[src]);
  }
  return out;
}

function applyPerms(perms: number[][], rank: number): number[] {
  return perms.reduce((order, p) => p.map((i) => order[i]), [...Array(rank).keys()]);
}

describe('wasm Transpose patch (rank >= 5)', () => {
  beforeAll(async () => {
    await loadWasmBackend(1);
    patchWasmForTraining();
  });
  afterAll(() => unloadWasmBackend());

  it('is registered', () => expect(isPatched('Transpose', 'wasm')).toBe(true));

  it('collapses size-1 axes and adjacent runs', () => {
    expect(collapseTranspose([3, 4, 8, 64, 16], [1, 0, 2, 3, 4])).toEqual({ shape: [3, 4, 8192], perm: [1, 0, 2] });
    expect(collapseTranspose([2, 1, 3, 5], [3, 1, 0, 2])).toEqual({ shape: [6, 5], perm: [1, 0] });
    expect(collapseTranspose([3, 4, 8, 64, 16], [1, 3, 0, 2, 4]).perm).toHaveLength(5);
  });

  it('decomposes any permutation into single-axis moves that compose to it, each of rank <= 4', () => {
    const rng = new Rng(5);
    for (let trial = 0; trial < 50; trial++) {
      const rank = 5 + rng.int(3);
      const perm = rng.shuffle([...Array(rank).keys()]);
      const moves = singleAxisMoves(perm);
      expect(applyPerms(moves, rank)).toEqual(perm);
      for (const m of moves) expect(collapseTranspose(Array(rank).fill(2), m).perm.length).toBeLessThanOrEqual(4);
    }
  });

  const CASES: [number[], number[]][] = [
    [[3, 4, 8, 6, 5], [1, 3, 0, 2, 4]], // attention head split gradient
    [[4, 6, 3, 8, 5], [2, 0, 3, 1, 4]], // attention head split
    [[3, 4, 8, 6, 5], [1, 0, 2, 3, 4]],
    [[3, 4, 2, 6, 5], [4, 3, 2, 1, 0]],
    [[2, 3, 1, 4, 2, 3], [5, 2, 0, 4, 1, 3]],
    [[2, 3, 4], [2, 0, 1]], // rank 3: stock
  ];
  for (const [shape, perm] of CASES) {
    it(`${JSON.stringify(shape)} perm ${JSON.stringify(perm)} matches the naive reference exactly`, () => {
      const values = seededValues(tf.util.sizeFromShape(shape), 99);
      const x = tf.tensor(values, shape);
      const y = tf.transpose(x, perm);
      expect(y.shape).toEqual(perm.map((a) => shape[a]));
      expect(Array.from(y.dataSync())).toEqual(naiveTranspose(values, shape, perm));
      tf.dispose([x, y]);
    });
  }

  it('int32 rank 5', () => {
    const x = tf.tensor(Array.from({ length: 120 }, (_, i) => i), [2, 3, 1, 4, 5], 'int32');
    expect(Array.from(tf.transpose(x, [3, 1, 4, 0, 2]).dataSync())).toEqual(naiveTranspose(x.dataSync(), [2, 3, 1, 4, 5], [3, 1, 4, 0, 2]));
  });
});
