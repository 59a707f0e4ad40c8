import * as tf from '@tensorflow/tfjs';
import { withStockKernels } from './kernels/index.js';
import { relativeMaxError, seededValues } from './kernels/reference.js';

/**
 * A one-step gradient check of a backend against the stock cpu backend on tiny shapes. The net
 * touches every kernel the patches replace and the ones a segmentation step needs: conv (stride 1
 * and 2), max-pool, transposed conv, channel concat, a batched attention-style matMul with
 * transposeB, a Linear-style matMul, softmax, sigmoid BCE.
 */

/**
 * Max |backend - cpu| / max |cpu| per gradient tensor. Float32 sums in another order give errors of
 * order n·u ≈ 128 · 6e-8 ≈ 1e-5 for the 128-term reductions here, compounded through the attention
 * softmax; measured: 2.0e-5 (wasm), 1.8e-7 (patched cpu). A 1 % kernel error gives >= 1e-2
 * (self-test.test.ts injects one into each kernel).
 */
export const SELF_TEST_TOLERANCE = 1e-4;

export interface SelfTestResult {
  ok: boolean;
  /** Largest gradient error, relative to each gradient's scale. */
  maxError: number;
  detail: string;
}

const SHAPES = {
  x: [2, 8, 8, 3],
  w1: [3, 3, 3, 4],
  w2: [3, 3, 4, 8],
  up1: [2, 2, 4, 8],
  up2: [2, 2, 4, 4],
  head: [8, 1],
} as const;
type Name = keyof typeof SHAPES;
const NAMES = Object.keys(SHAPES) as Name[];

function tinyNet(p: Record<Name, tf.Tensor>, labels: tf.Tensor): tf.Scalar {
  const x = p.x as tf.Tensor4D;
  const h1 = tf.relu(tf.conv2d(x, p.w1 as tf.Tensor4D, 1, 'same')); // [2,8,8,4]
  const pooled = tf.maxPool(h1, 2, 2, 'valid'); // [2,4,4,4]
  const h2 = tf.relu(tf.conv2d(pooled, p.w2 as tf.Tensor4D, 2, 'same')); // [2,2,2,8]
  const u1 = tf.conv2dTranspose(h2, p.up1 as tf.Tensor4D, [2, 4, 4, 4], 2, 'valid'); // [2,4,4,4]
  const u2 = tf.conv2dTranspose(u1, p.up2 as tf.Tensor4D, [2, 8, 8, 4], 2, 'valid'); // [2,8,8,4]
  const merged = tf.concat([h1, u2], -1); // [2,8,8,8]
  const tokens = tf.reshape(merged, [2, 64, 8]);
  const attention = tf.softmax(tf.div(tf.matMul(tokens, tokens, false, true), Math.sqrt(8))); // [2,64,64]
  const mixed = tf.matMul(attention, tokens); // [2,64,8]
  const logits = tf.matMul(tf.reshape(mixed, [128, 8]), p.head as tf.Tensor2D); // [128,1]
  return tf.losses.sigmoidCrossEntropy(labels, logits) as tf.Scalar;
}

interface Gradients {
  loss: number;
  grads: Record<Name, Float32Array>;
}

/** Read back asynchronously: tfjs-webgpu in Node cannot read GPU data synchronously (webgpu-adapter.ts). */
async function gradientsOnActiveBackend(): Promise<Gradients> {
  const values = NAMES.map((name, i) => tf.tensor(seededValues(tf.util.sizeFromShape([...SHAPES[name]]), 100 + i), [...SHAPES[name]]));
  const labels = tf.tensor(Array.from(seededValues(128, 99), (v) => (v > 0 ? 1 : 0)), [128, 1]);
  values.push(labels);
  try {
    const { value, grads } = tf.valueAndGrads((...args: tf.Tensor[]) =>
      tinyNet(Object.fromEntries(NAMES.map((n, i) => [n, args[i]])) as Record<Name, tf.Tensor>, labels),
    )(values.slice(0, NAMES.length));
    try {
      const out: Gradients = { loss: (await value.data())[0], grads: {} as Record<Name, Float32Array> };
      for (const [i, name] of NAMES.entries()) out.grads[name] = (await grads[i].data()) as Float32Array;
      return out;
    } finally {
      tf.dispose([value, ...grads]);
    }
  } finally {
    tf.dispose(values);
  }
}

let reference: Gradients | null = null;

/**
 * The cpu backend greets its first tensor with advice to install tfjs-node; backend selection has
 * already tried that (it cannot install offline, ENGINE.md §3), so the banner would only mislead.
 */
export function silenceCpuBanner(): void {
  const cpu = tf.findBackend('cpu') as unknown as { firstUse?: boolean } | null;
  if (cpu) cpu.firstUse = false;
}

async function cpuReference(): Promise<Gradients> {
  if (!reference) {
    await tf.setBackend('cpu');
    silenceCpuBanner();
    reference = await withStockKernels('cpu', () => gradientsOnActiveBackend());
  }
  return reference;
}

/** Checks `backendName` (already registered and initialised); leaves it as the active backend. */
export async function gradientSelfTest(backendName: string): Promise<SelfTestResult> {
  const expected = await cpuReference();
  if (!(await tf.setBackend(backendName))) {
    return { ok: false, maxError: Number.POSITIVE_INFINITY, detail: `could not activate '${backendName}'` };
  }
  let actual: Gradients;
  try {
    actual = await gradientsOnActiveBackend();
  } catch (e) {
    return { ok: false, maxError: Number.POSITIVE_INFINITY, detail: `threw: ${(e as Error).message}` };
  }
  let worst: { name: string; error: number } = { name: 'loss', error: relativeMaxError([actual.loss], [expected.loss]) };
  for (const name of NAMES) {
    const error = relativeMaxError(actual.grads[name], expected.grads[name]);
    if (!(error <= worst.error)) worst = { name, error };
  }
  const ok = worst.error <= SELF_TEST_TOLERANCE;
  return {
    ok,
    maxError: worst.error,
    detail: `max gradient error ${worst.error.toExponential(2)} (${worst.name}) vs stock cpu, tolerance ${SELF_TEST_TOLERANCE}`,
  };
}
