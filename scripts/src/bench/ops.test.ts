import * as tf from '@tensorflow/tfjs';
import { initBackend, onnxruntimeStats, resetOnnxruntimeStats } from '@lvit-bench/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { timeOp } from './ops.js';

describe('timeOp on the onnxruntime engine', () => {
  beforeAll(async () => {
    await initBackend('onnxruntime');
  });

  it('runs each timed op inside the timed region (the engine records kernels until a value is read)', async () => {
    const x = tf.randomUniform([64, 64], -1, 1, 'float32', 1);
    x.dataSync();
    resetOnnxruntimeStats();
    await timeOp(() => tf.matMul(x, x), 3, 1);
    const runs = onnxruntimeStats()
      .filter((s) => s.kernel.startsWith('(deferred graph run)'))
      .reduce((a, s) => a + s.calls, 0);
    expect(runs).toBe(4);
    x.dispose();
  });
});
