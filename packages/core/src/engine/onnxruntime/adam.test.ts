import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { Adam } from '../../train/optim.js';
import { Rng } from '../../rng.js';
import { registerOnnxruntimeBackend } from './index.js';
import { FUSED_ADAM } from './kernels/adam.js';
import { onnxruntimeStats, resetOnnxruntimeStats } from './stats.js';

/** The fused one-pass Adam kernel (kernels/adam.ts) against train/optim.ts's tf-op Adam on the cpu backend. */

beforeAll(async () => {
  const probe = await registerOnnxruntimeBackend({ intraOpNumThreads: 2 });
  expect(probe.ok, probe.reason).toBe(true);
});

function randomArrays(seed: number, sizes: number[], steps: number) {
  const rng = new Rng(seed);
  const r = (n: number) => Float32Array.from({ length: n }, () => rng.next() * 2 - 1);
  return { params: sizes.map(r), grads: Array.from({ length: steps }, () => sizes.map((n) => r(n).map((g) => g * 1e-2))) };
}

async function train(backend: string, data: ReturnType<typeof randomArrays>): Promise<Float32Array[]> {
  await tf.setBackend(backend);
  const vars = data.params.map((p, i) => tf.variable(tf.tensor1d(p), true, `adam-test-${backend}-${i}-${Math.random()}`));
  const opt = new Adam(vars.map((v, i) => [`p${i}`, v] as [string, tf.Variable]), { lr: 0.01 });
  for (const step of data.grads) {
    const grads = Object.fromEntries(step.map((g, i) => [`p${i}`, tf.tensor1d(g)]));
    opt.step(grads);
    tf.dispose(Object.values(grads));
  }
  const out = vars.map((v) => Float32Array.from(v.dataSync() as Float32Array));
  opt.dispose();
  tf.dispose(vars);
  return out;
}

describe('fused Adam (onnxruntime)', () => {
  it('runs one kernel call per step for all parameters and matches the tf-op Adam on the cpu backend', async () => {
    const data = randomArrays(11, [5000, 17, 1], 4);
    const reference = await train('cpu', data);
    resetOnnxruntimeStats();
    const fused = await train('onnxruntime', data);
    expect(onnxruntimeStats().find((s) => s.kernel === FUSED_ADAM)?.calls).toBe(4);
    fused.forEach((p, i) => {
      let worst = 0;
      for (let j = 0; j < p.length; j++) worst = Math.max(worst, Math.abs(p[j] - reference[i][j]));
      // lr 0.01 over 4 steps; float32 rounding of the tf-op chain vs one float64 expression.
      expect(worst, `parameter ${i}`).toBeLessThan(1e-6);
    });
  });

  it('catches a wrong update (beta2 swapped for beta1 in the kernel attributes)', async () => {
    const data = randomArrays(12, [64], 3);
    const reference = await train('cpu', data);
    await tf.setBackend('onnxruntime');
    const kernel = tf.getKernel(FUSED_ADAM, 'onnxruntime')!;
    tf.unregisterKernel(FUSED_ADAM, 'onnxruntime');
    tf.registerKernel({ ...kernel, kernelFunc: (args) => kernel.kernelFunc({ ...args, attrs: { ...args.attrs, beta2: args.attrs!.beta1 } }) });
    try {
      const faulty = await train('onnxruntime', data);
      const worst = Math.max(...faulty[0].map((p, j) => Math.abs(p - reference[0][j])));
      expect(worst).toBeGreaterThan(1e-4);
    } finally {
      tf.unregisterKernel(FUSED_ADAM, 'onnxruntime');
      tf.registerKernel(kernel);
    }
  });
});
