import * as tf from '@tensorflow/tfjs';
import { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import { afterAll, describe, expect, it } from 'vitest';
import { silenceCpuBanner } from './self-test.js';
import { describeWebgpuAdapter, syncReadbackFailure, type GpuLike } from './webgpu-adapter.js';

/** A backend that, like tfjs-webgpu in Node, cannot read computed data synchronously. */
class NoSyncReadBackend extends MathBackendCPU {
  override readSync(): never {
    throw new Error('OffscreenCanvas is not defined');
  }
}

describe('describeWebgpuAdapter', () => {
  const gpu = (adapter: object | null): GpuLike => ({ requestAdapter: async () => adapter as never });

  it('reports a hardware adapter with its features and the limits that matter', async () => {
    const report = await describeWebgpuAdapter(
      gpu({ info: { vendor: 'nvidia', architecture: 'hopper', description: 'NVIDIA H200' }, features: new Set(['timestamp-query', 'shader-f16']), limits: { maxBufferSize: 2 ** 40, maxTextureDimension2D: 8 } }),
    );
    expect(report).toEqual({ description: 'nvidia hopper NVIDIA H200', vendor: 'nvidia', software: false, features: ['shader-f16', 'timestamp-query'], limits: { maxBufferSize: 2 ** 40 } });
  });

  it('marks software adapters and throws when there is none', async () => {
    expect((await describeWebgpuAdapter(gpu({ info: { vendor: 'mesa', description: 'llvmpipe (LLVM 15.0.6, 256 bits)' } }))).software).toBe(true);
    await expect(describeWebgpuAdapter(gpu(null))).rejects.toThrow('Dawn found no WebGPU adapter');
  });
});

describe('syncReadbackFailure', () => {
  afterAll(async () => {
    tf.removeBackend('no-sync-read');
    await tf.setBackend('cpu');
  });

  it('is null where computed tensors read synchronously, the reason where they do not', async () => {
    await tf.setBackend('cpu');
    silenceCpuBanner();
    expect(syncReadbackFailure()).toBeNull();
    tf.registerBackend('no-sync-read', () => new NoSyncReadBackend());
    for (const k of tf.getKernelsForBackend('cpu')) tf.registerKernel({ ...k, backendName: 'no-sync-read' });
    await tf.setBackend('no-sync-read');
    expect(syncReadbackFailure()).toBe('OffscreenCanvas is not defined');
  });
});
