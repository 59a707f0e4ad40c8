import * as tf from '@tensorflow/tfjs';
import * as ort from 'onnxruntime-node';
import onnxProto from 'onnx-proto';
import { beforeAll, describe, expect, it } from 'vitest';
import { activateOnnxruntime } from '../engine/onnxruntime/activate.test-util.js';
import { Rng } from '../rng.js';
import { createModel } from '../registry.js';
import '../models/index.js';
import { traceForwardToOnnx } from './trace.js';

/**
 * The traced graph against the tfjs forward it was traced from, on inputs other than the trace's
 * (so a value baked in as a constant by mistake would show). Tolerance: max |onnx - tfjs| <= 1e-5 on
 * sigmoid probabilities; both run the same ORT kernels, but the exported graph is optimised as a
 * whole (fusions, other reduction orders), so float32 rounding differs by a few ulp per layer.
 */

const TOL = 1e-5;

beforeAll(activateOnnxruntime);

function random(shape: number[], seed: number): tf.Tensor {
  const rng = new Rng(seed);
  return tf.tensor(new Float32Array(shape.reduce((a, b) => a * b, 1)).map(() => rng.next()), shape);
}

async function runOnnx(bytes: Uint8Array, feeds: tf.Tensor[]): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(bytes);
  const inputs = Object.fromEntries(feeds.map((t, i) => [`i${i}`, new ort.Tensor('float32', t.dataSync() as Float32Array, t.shape)]));
  const out = await session.run(inputs);
  await session.release();
  return out.o0.data as Float32Array;
}

const saved = { producerName: 'test', graphName: 'test', metadata: { 'lvit-bench/test': 'yes' } };

describe('traceForwardToOnnx', () => {
  for (const key of ['lvit-t', 'lvit-tw']) {
    it(`${key}: the exported graph reproduces the eval-mode forward on new inputs`, async () => {
      const withText = key === 'lvit-t';
      const model = createModel(key, { baseChannels: 8, imageSize: 32, tokenGrid: 2, textDim: 12, textTokens: 10, heads: 2, seed: 3 });
      const forward = (x: tf.Tensor, t?: tf.Tensor) => model.forward(x as tf.Tensor4D, (t ?? null) as tf.Tensor3D | null, { training: false });
      const traceInputs = [random([1, 32, 32, 3], 1), ...(withText ? [random([1, 10, 12], 2)] : [])];
      const traced = traceForwardToOnnx(forward, traceInputs, saved);
      expect(traced.kernels).toBeGreaterThan(50);
      const fresh = [random([1, 32, 32, 3], 11), ...(withText ? [random([1, 10, 12], 12)] : [])];
      const expected = tf.tidy(() => forward(fresh[0], fresh[1])).dataSync() as Float32Array;
      const got = await runOnnx(traced.bytes, fresh);
      expect(got.length).toBe(32 * 32);
      let maxDiff = 0;
      for (let i = 0; i < got.length; i++) maxDiff = Math.max(maxDiff, Math.abs(got[i] - expected[i]));
      expect(maxDiff).toBeLessThanOrEqual(TOL);
      // The traced inputs' output is not the fresh one's: the image really is an input.
      expect(Math.abs(traced.output[0] - expected[0]) + Math.abs(traced.output[500] - expected[500])).toBeGreaterThan(1e-6);
      tf.dispose([...traceInputs, ...fresh]);
      model.dispose();
    });
  }

  it('writes standard ONNX only (no machine-specific nchwc ops) and the metadata', () => {
    const model = createModel('lvit-tw', { baseChannels: 16, imageSize: 32, tokenGrid: 2, heads: 2, seed: 3 });
    const x = random([1, 32, 32, 3], 1);
    const traced = traceForwardToOnnx((t) => model.forward(t as tf.Tensor4D, null, { training: false }), [x], saved);
    const decoded = onnxProto.onnx.ModelProto.decode(traced.bytes);
    expect(decoded.graph!.node!.every((n) => !n.domain)).toBe(true);
    expect(decoded.metadataProps).toEqual([{ key: 'lvit-bench/test', value: 'yes' }]);
    x.dispose();
    model.dispose();
  });

  it('refuses a forward whose input path runs a cpu-only kernel', () => {
    const x = random([1, 4, 4, 1], 1);
    // Cumsum has no ORT kernel, so it runs in the cpu backend.
    expect(() => traceForwardToOnnx((t) => tf.cumsum(t, 1), [x], saved)).toThrow(/kernel Cumsum ran in the cpu backend/);
    x.dispose();
  });
});
