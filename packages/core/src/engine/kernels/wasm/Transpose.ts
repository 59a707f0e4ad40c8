import * as tf from '@tensorflow/tfjs';
import { KernelScope, stockKernel, withKernelScope } from '../kernel-scope.js';

/**
 * The wasm Transpose is fast up to rank 4 but falls back to a generic loop at rank 5+, e.g. the
 * head split of attention ([B,T,3,heads,d] <-> [3,B,heads,T,d]) at ~100 ns/element (7-11 ms for
 * 98k elements vs 0.06 ms at rank 4). The stock kernel only drops size-1 axes, so this version
 * also merges axes that stay adjacent (a rank-5 transpose often is a rank-3 one) and otherwise
 * performs the permutation as a few single-axis moves, each of which collapses to rank <= 4.
 */

/** Drops size-1 axes and merges runs of axes that stay adjacent and in order. */
export function collapseTranspose(shape: readonly number[], perm: readonly number[]): { shape: number[]; perm: number[] } {
  const keptAxes = shape.map((_, axis) => axis).filter((axis) => shape[axis] !== 1);
  const compactShape = keptAxes.map((axis) => shape[axis]);
  const compactPerm = perm.filter((axis) => shape[axis] !== 1).map((axis) => keptAxes.indexOf(axis));
  // Runs in output order whose input axes are consecutive and increasing become one axis.
  const runs: number[][] = [];
  for (const axis of compactPerm) {
    const last = runs[runs.length - 1];
    if (last && axis === last[last.length - 1] + 1) last.push(axis);
    else runs.push([axis]);
  }
  const byInputOrder = [...runs].sort((a, b) => a[0] - b[0]);
  return {
    shape: byInputOrder.map((run) => run.reduce((p, axis) => p * compactShape[axis], 1)),
    perm: runs.map((run) => byInputOrder.indexOf(run)),
  };
}

/**
 * Permutations, each moving a single axis, whose composition is `perm` (applied in order:
 * transpose(transpose(x, m0), m1) ...). Each collapses to rank <= 4.
 */
export function singleAxisMoves(perm: readonly number[]): number[][] {
  let order = perm.map((_, i) => i); // original axis at each current position
  const moves: number[][] = [];
  for (let k = 0; k < perm.length; k++) {
    const j = order.indexOf(perm[k]);
    if (j === k) continue;
    const move = [...order.keys()].filter((i) => i < k);
    move.push(j);
    for (let i = k; i < order.length; i++) if (i !== j) move.push(i);
    moves.push(move);
    order = move.map((i) => order[i]);
  }
  return moves;
}

function isIdentity(perm: readonly number[]): boolean {
  return perm.every((axis, i) => axis === i);
}

/** One transpose through the stock kernel on the collapsed view. */
function collapsedTranspose(s: KernelScope, x: tf.TensorInfo, perm: number[]): tf.TensorInfo {
  const outShape = perm.map((axis) => x.shape[axis]);
  const c = collapseTranspose(x.shape, perm);
  if (isIdentity(c.perm)) return s.reshape(x, outShape);
  const moved = s.transpose(s.reshape(x, c.shape), c.perm);
  return s.reshape(moved, outShape);
}

export const wasmTransposeConfig: tf.KernelConfig = {
  kernelName: 'Transpose',
  backendName: 'wasm',
  kernelFunc: (args) => {
    const x = (args.inputs as { x: tf.TensorInfo }).x;
    const { perm } = args.attrs as unknown as tf.TransposeAttrs;
    if (x.shape.length <= 4 || x.dtype === 'string') return stockKernel('Transpose', 'wasm').kernelFunc(args);
    return withKernelScope(args.backend, 'wasm', (s) => {
      if (collapseTranspose(x.shape, perm).perm.length <= 4) return collapsedTranspose(s, x, perm);
      return singleAxisMoves(perm).reduce((cur, move) => collapsedTranspose(s, cur, move), x);
    });
  },
};
