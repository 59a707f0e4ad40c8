import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import type { OnnxruntimeBackend } from './backend.js';
import { onnxruntimeStats, registerOnnxruntimeBackend, resetOnnxruntimeStats } from './index.js';
import { FUSED_GRADIENT_KERNELS } from './fused-gradients.js';
import { gradientSelfTest } from './self-test.js';

describe('registerOnnxruntimeBackend', () => {
  it('passes its self-test, registers every cpu kernel, and leaves the active backend alone', async () => {
    await tf.setBackend('cpu');
    const probe = await registerOnnxruntimeBackend({ intraOpNumThreads: 2 });
    expect(probe.ok, probe.reason).toBe(true);
    expect(probe.reason).toMatch(/onnxruntime-node 1\.30\.0 \(cpu, 2 threads\)/);
    expect(tf.getBackend()).toBe('cpu');
    const cpuKernels = tf.getKernelsForBackend('cpu').map((k) => k.kernelName).sort();
    const ortKernels = tf.getKernelsForBackend('onnxruntime').map((k) => k.kernelName).sort();
    // Every cpu kernel, plus the fused-gradient kernels that exist only on this backend.
    expect(ortKernels.filter((k) => !k.startsWith('_Ort'))).toEqual(cpuKernels);
    expect(ortKernels.filter((k) => k.startsWith('_Ort')).sort()).toEqual(FUSED_GRADIENT_KERNELS.map((k) => k.kernelName).sort());
  });

  it('the self-test reports a kernel whose result is slightly wrong', async () => {
    await registerOnnxruntimeBackend({ intraOpNumThreads: 1 });
    const original = tf.getKernel('Conv2DBackpropFilter', 'onnxruntime');
    tf.unregisterKernel('Conv2DBackpropFilter', 'onnxruntime');
    tf.registerKernel({
      ...original,
      kernelFunc: (args) => {
        const out = original.kernelFunc(args) as tf.TensorInfo;
        const values = (args.backend as OnnxruntimeBackend).data.get(out.dataId)!.values as Float32Array;
        for (let i = 0; i < values.length; i++) values[i] *= 1.01; // a 1% error
        return out;
      },
    });
    try {
      const failure = await gradientSelfTest('onnxruntime');
      expect(failure).toMatch(/gradient of (conv|up|head)\.weight differs from the cpu backend/);
    } finally {
      tf.unregisterKernel('Conv2DBackpropFilter', 'onnxruntime');
      tf.registerKernel(original);
    }
    expect(await gradientSelfTest('onnxruntime')).toBeNull();
  });

  it('reports per-kernel calls, time and fallbacks', async () => {
    await registerOnnxruntimeBackend({ intraOpNumThreads: 1 });
    await tf.setBackend('onnxruntime');
    resetOnnxruntimeStats();
    tf.tidy(() => {
      const x = tf.ones([64, 256]);
      tf.add(x, x); // 16384 elements: ORT
      tf.add(tf.ones([4]), tf.ones([4])); // tiny: cpu fallback
    });
    const stats = onnxruntimeStats();
    const add = stats.filter((s) => s.kernel === 'Add');
    expect(add.find((s) => !s.fallback)?.calls).toBe(1);
    expect(add.find((s) => s.fallback)?.calls).toBe(1);
    for (const s of stats) expect(s.ms).toBeGreaterThanOrEqual(0);
    resetOnnxruntimeStats();
    expect(onnxruntimeStats()).toEqual([]);
  });
});
