import * as tf from '@tensorflow/tfjs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { OrtFeed, OrtGpuFeed, OrtResult, OrtSessionOptions, OrtTypedArray, TypedArrayCtor } from './ort-binding.js';

/**
 * The WebGPU EP's gpu-buffer IO binding, wired without a GPU: OrtSession is replaced by one that
 * runs the same graph on the CPU EP and hands out opaque handles into a map as its "GPU buffers",
 * as the real binding hands out external handles. That checks the backend's side (which sessions
 * keep outputs on the GPU, that such outputs are fed back as buffers, downloaded only for cpu
 * kernels and reads, freed on dispose, and the fallback to copied outputs), not ORT's WebGPU code,
 * which is unmeasured until a GPU run (scripts/gpu/README.md).
 */

const gpu = {
  buffers: new Map<object, OrtTypedArray>(),
  gpuSessions: 0,
  bufferFeeds: 0,
  failRuns: false,
  options: [] as object[],
  nchwcOnWebgpu: 0,
};

vi.mock('./ort-binding.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('./ort-binding.js')>();
  class EmulatedGpuSession {
    private readonly inner: InstanceType<typeof real.OrtSession>;
    constructor(
      model: Uint8Array,
      opts: OrtSessionOptions,
      numOutputs: number,
      shapes: (readonly number[] | undefined)[] = [],
      private readonly gpuOutputs = false,
    ) {
      gpu.options.push(real.nativeOptions(opts, gpuOutputs));
      if (opts.executionProvider === 'webgpu' && Buffer.from(model).includes('ReorderInput')) gpu.nchwcOnWebgpu++;
      if (gpuOutputs) gpu.gpuSessions++;
      this.inner = new real.OrtSession(model, { ...opts, executionProvider: 'cpu' }, numOutputs, shapes);
    }

    run(feeds: Record<string, OrtFeed | OrtGpuFeed>, alloc?: (c: TypedArrayCtor, n: number) => OrtFeed['data']): OrtResult[] {
      const cpu: Record<string, OrtFeed> = {};
      for (const [name, f] of Object.entries(feeds)) {
        if (f.location !== 'gpu-buffer') {
          cpu[name] = f;
          continue;
        }
        gpu.bufferFeeds++;
        const data = gpu.buffers.get(f.gpuBuffer as object);
        if (!data) throw new Error('fed a GPU buffer that was freed');
        cpu[name] = { dims: f.dims, type: f.type, location: 'cpu', data };
      }
      if (this.gpuOutputs && gpu.failRuns) throw new Error('emulated WebGPU failure');
      if (!this.gpuOutputs) return this.inner.run(cpu, alloc);
      return this.inner.run(cpu).map((r) => {
        const handle = {};
        gpu.buffers.set(handle, r.data);
        return { dims: r.dims, type: r.type, location: 'gpu-buffer', gpuBuffer: handle, dispose: () => gpu.buffers.delete(handle) } as unknown as OrtResult;
      });
    }

    dispose(): void {
      this.inner.dispose();
    }
  }
  return { ...real, OrtSession: EmulatedGpuSession };
});

const { registerOnnxruntimeBackend, onnxruntimeStats, createBenchStep } = await import('./index.js');
const { initBackend } = await import('../backend.js');

async function useBackend(gpuBufferOutputs: boolean): Promise<void> {
  const probe = await registerOnnxruntimeBackend({ executionProvider: 'webgpu', intraOpNumThreads: 2, gpuBufferOutputs });
  expect(probe.ok, probe.reason).toBe(true);
  await tf.setBackend('onnxruntime');
}

function oneStepLoss(): number {
  const step = createBenchStep({ base: 8, batch: 2, res: 32, seed: 3 });
  try {
    return step.step();
  } finally {
    step.dispose();
  }
}

afterEach(() => {
  gpu.failRuns = false;
});

describe('gpu-buffer outputs (emulated WebGPU EP)', () => {
  it('sessions ask ORT for gpu-buffer outputs only when kept on the GPU', async () => {
    gpu.options.length = 0;
    await useBackend(true);
    expect(gpu.options.some((o) => (o as { preferredOutputLocation?: string }).preferredOutputLocation === 'gpu-buffer')).toBe(true);
    gpu.options.length = 0;
    await useBackend(false);
    expect(gpu.options.length).toBeGreaterThan(0);
    expect(gpu.options.every((o) => !('preferredOutputLocation' in o))).toBe(true);
  });

  it('a train step gives the same loss, feeding outputs back as GPU buffers and downloading few', async () => {
    await useBackend(false);
    const copied = oneStepLoss();
    await useBackend(true);
    const feeds0 = gpu.bufferFeeds;
    const kept = oneStepLoss();
    expect(kept).toBeCloseTo(copied, 5);
    // The NCHWc conv ops are CPU EP kernels; a WebGPU session must not contain them.
    expect(gpu.nchwcOnWebgpu).toBe(0);
    const stats = onnxruntimeStats();
    const downloads = stats.find((s) => s.kernel === '(gpu-buffer download)')?.calls ?? 0;
    const ortCalls = stats.filter((s) => !s.fallback && !s.kernel.startsWith('(')).reduce((n, s) => n + s.calls, 0);
    expect(gpu.bufferFeeds - feeds0).toBeGreaterThan(0);
    expect(downloads).toBeGreaterThan(0);
    expect(downloads).toBeLessThan(ortCalls);
  });

  it('reading a GPU-resident tensor downloads it once; disposing it frees its buffer', async () => {
    await useBackend(true);
    const a = tf.fill([256, 256], 1.5);
    const b = tf.fill([256, 256], 2);
    const before = gpu.buffers.size;
    const downloads = () => onnxruntimeStats().find((s) => s.kernel === '(gpu-buffer download)')?.calls ?? 0;
    const c = tf.add(a, b);
    expect(gpu.buffers.size).toBe(before + 1);
    const d0 = downloads();
    expect(c.dataSync()[123]).toBe(3.5);
    expect(c.dataSync()[0]).toBe(3.5);
    expect(downloads() - d0).toBe(1);
    tf.dispose([a, b, c]);
    expect(gpu.buffers.size).toBe(before);
  });

  it('onnxruntime-webgpu falls back to copied outputs when keeping them on the GPU fails, saying why', async () => {
    gpu.failRuns = true;
    const info = await initBackend('onnxruntime-webgpu', { threads: 2, log: () => {} });
    expect(info.detail).toMatch(/outputs copied back: keeping them on the GPU failed \(.*emulated WebGPU failure/);
    gpu.failRuns = false;
    const resident = await initBackend('onnxruntime-webgpu', { threads: 2, log: () => {} });
    expect(resident.detail).toContain('outputs kept on the GPU');
  });
});
