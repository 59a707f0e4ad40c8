import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { injectScaledOutput } from '../kernels/faulty-kernel.test-util.js';
import { onnxruntimeStats, registerOnnxruntimeBackend, resetOnnxruntimeStats } from './index.js';
import { FUSED_GRADIENT_KERNELS } from './fused-gradients.js';
import { gradientSelfTest } from './self-test.js';
import { FUSED_ADAM } from './kernels/adam.js';
import { OnnxruntimeBackend } from './backend.js';
import { BATCH_NORM_TRAIN, BATCH_NORM_TRAIN_GRAD, fusedBatchNormWanted } from './kernels/batch-norm-train.js';
import { nativeOrtRun } from './native.js';

describe('registerOnnxruntimeBackend', () => {
  it('passes its self-test, registers every cpu kernel, and leaves the active backend alone', async () => {
    await tf.setBackend('cpu');
    const probe = await registerOnnxruntimeBackend({ intraOpNumThreads: 2 });
    expect(probe.ok, probe.reason).toBe(true);
    expect(probe.reason).toMatch(/onnxruntime-node 1\.30\.0 \(cpu, 2 threads\)/);
    expect(tf.getBackend()).toBe('cpu');
    const cpuKernels = tf.getKernelsForBackend('cpu').map((k) => k.kernelName).sort();
    const ortKernels = tf.getKernelsForBackend('onnxruntime').map((k) => k.kernelName).sort();
    // Every cpu kernel, plus the fused-gradient kernels that exist only on this backend (and the fused
    // batch norm's, on by default where the cpu sessions run through ort-run.cc).
    expect(ortKernels.filter((k) => !k.startsWith('_Ort'))).toEqual(cpuKernels);
    const fusedBatchNorm = fusedBatchNormWanted('cpu') ? [BATCH_NORM_TRAIN, BATCH_NORM_TRAIN_GRAD] : [];
    expect(ortKernels.filter((k) => k.startsWith('_Ort')).sort()).toEqual([...FUSED_GRADIENT_KERNELS.map((k) => k.kernelName), FUSED_ADAM, ...fusedBatchNorm].sort());
    expect(probe.reason).toMatch(nativeOrtRun() ? /graph runs: native \(native\/build\/ort-run\.node\), outputs not copied/ : /graph runs: onnxruntime-node's binding/);
  });

  // Forward and backward kernels of the self-test's step (the batch norm's included).
  const faulty = ['FusedConv2D', 'Conv2DBackpropFilter', 'Conv2DBackpropInput', 'MaxPoolGrad', 'FusedBatchNorm'];
  it(`the self-test reports a 1 % error in any of ${faulty.join(', ')}`, async () => {
    await registerOnnxruntimeBackend({ intraOpNumThreads: 1 });
    for (const kernel of faulty) {
      const restore = injectScaledOutput(kernel, 'onnxruntime', 1.01);
      try {
        const failure = await gradientSelfTest('onnxruntime');
        expect(failure, kernel).toMatch(/^self-test: gradient of (x|conv\.weight|conv\.bias|bn\.gamma|bn\.beta|up\.weight|head\.weight) differs from the cpu backend/);
      } finally {
        restore();
      }
    }
    expect(await gradientSelfTest('onnxruntime')).toBeNull();
  });

  it('reports per-kernel calls, time and fallbacks (eager kernels)', async () => {
    await registerOnnxruntimeBackend({ intraOpNumThreads: 1 });
    await tf.setBackend('onnxruntime');
    const backend = tf.backend() as OnnxruntimeBackend;
    backend.setDeferred(false);
    resetOnnxruntimeStats();
    try {
      tf.tidy(() => {
        const x = tf.ones([64, 256]);
        tf.add(x, x); // 16384 elements: ORT
        tf.add(tf.ones([4]), tf.ones([4])); // tiny: cpu fallback
      });
    } finally {
      backend.setDeferred(true);
    }
    const stats = onnxruntimeStats();
    const add = stats.filter((s) => s.kernel === 'Add');
    expect(add.find((s) => !s.fallback)?.calls).toBe(1);
    expect(add.find((s) => s.fallback)?.calls).toBe(1);
    for (const s of stats) expect(s.ms).toBeGreaterThanOrEqual(0);
    resetOnnxruntimeStats();
    expect(onnxruntimeStats()).toEqual([]);
  });
});
