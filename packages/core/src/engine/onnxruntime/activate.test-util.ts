import * as tf from '@tensorflow/tfjs';
import { expect } from 'vitest';
import type { OnnxruntimeBackend } from './backend.js';
import { registerOnnxruntimeBackend } from './index.js';

/** For a test file's beforeAll: registers the onnxruntime backend (2 threads), expects its self-test to pass, makes it active. */
export async function activateOnnxruntime(): Promise<OnnxruntimeBackend> {
  const probe = await registerOnnxruntimeBackend({ intraOpNumThreads: 2 });
  expect(probe.ok, probe.reason).toBe(true);
  await tf.setBackend('onnxruntime');
  return tf.backend() as OnnxruntimeBackend;
}
