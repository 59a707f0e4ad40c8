import * as tf from '@tensorflow/tfjs';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { initBackend, parseBackendRequest, shutdownBackend } from './backend.js';
import { GPU_ROUTE_SCHEMA } from './gpu-route.js';
import { isPatched } from './kernels/index.js';

const quiet = { log: () => {} };

describe('parseBackendRequest', () => {
  it('accepts the valid names and defaults to auto', () => {
    expect(parseBackendRequest(undefined)).toBe('auto');
    expect(parseBackendRequest('')).toBe('auto');
    expect(parseBackendRequest(' WASM ')).toBe('wasm');
    for (const name of ['auto', 'tensorflow', 'webgpu', 'onnxruntime', 'onnxruntime-webgpu', 'wasm', 'cpu']) expect(parseBackendRequest(name)).toBe(name);
  });

  it('rejects unknown names, listing the valid ones', () => {
    expect(() => parseBackendRequest('webgl')).toThrow(/unknown backend 'webgl'.*auto, tensorflow, webgpu, onnxruntime, onnxruntime-webgpu, wasm, cpu/);
  });
});

describe('initBackend', () => {
  afterAll(() => shutdownBackend());

  it('cpu: patches the kernels and passes the self-test', async () => {
    const info = await initBackend('cpu', quiet);
    expect(info).toMatchObject({ requested: 'cpu', name: 'cpu', skipped: [] });
    expect(info.detail).toContain('training patches');
    expect(info.device.length).toBeGreaterThan(0);
    expect(tf.getBackend()).toBe('cpu');
    expect(isPatched('Conv2DBackpropFilter', 'cpu')).toBe(true);
  });

  it('wasm with 1 thread: single-thread SIMD, patched', async () => {
    const info = await initBackend('wasm', { threads: 1, ...quiet });
    expect(info.name).toBe('wasm');
    expect(info.detail).toBe('wasm SIMD, 1 thread, training patches');
    expect(info.skipped).toEqual([{ backend: 'wasm-mt', reason: '1 thread requested' }]);
    expect(isPatched('Conv2DBackpropFilter', 'wasm')).toBe(true);
  });

  it('an explicit request that cannot be met throws with the reason', async () => {
    await expect(initBackend('tensorflow', quiet)).rejects.toThrow(/backend 'tensorflow' is not available here\. tensorflow: not installed.*@tensorflow\/tfjs-node/);
  });

  it('auto logs the choice and why each better option was skipped', async () => {
    const lines: string[] = [];
    const info = await initBackend('auto', { threads: 2, log: (m) => lines.push(m) });
    expect(['webgpu', 'onnxruntime', 'wasm']).toContain(info.name);
    const skippedNames = info.skipped.map((s) => s.backend);
    expect(skippedNames[0]).toBe('tensorflow');
    for (const s of info.skipped) expect(s.reason.length).toBeGreaterThan(0);
    expect(lines[0]).toMatch(/^\[engine\] GPU routes in order onnxruntime-webgpu, webgpu: default order/);
    expect(lines[1]).toContain(`backend ${info.name}`);
    expect(lines.slice(2).map((l) => l.split(':')[0])).toEqual(skippedNames.map((n) => `[engine]   skipped ${n}`));
    if (info.name === 'wasm') expect(info.detail).toBe('wasm threaded-SIMD, 2 threads, training patches');
  });

  it('auto tries the GPU routes in the order of a measured-choice file (here neither has an adapter)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'backend-route-'));
    const file = join(dir, 'gpu-route.json');
    writeFileSync(file, JSON.stringify({ schema: GPU_ROUTE_SCHEMA, faster: 'webgpu', adapter: 'test', measuredAt: 'now', timings: [] }));
    const lines: string[] = [];
    process.env.LVIT_GPU_ROUTE_FILE = file;
    try {
      const info = await initBackend('auto', { threads: 2, log: (m) => lines.push(m) });
      expect(info.skipped.slice(0, 3).map((s) => s.backend)).toEqual(['tensorflow', 'webgpu', 'onnxruntime-webgpu']);
      expect(info.skipped[2].reason).toMatch(/no WebGPU adapter|software\/fallback adapter/);
    } finally {
      delete process.env.LVIT_GPU_ROUTE_FILE;
    }
    expect(lines[0]).toContain('GPU routes in order webgpu, onnxruntime-webgpu: measured on test');
  });

  it('onnxruntime-webgpu, asked for explicitly, fails with ORT\'s own reason where no adapter exists', async () => {
    await expect(initBackend('onnxruntime-webgpu', quiet)).rejects.toThrow(/onnxruntime-webgpu: .*(adapter|Vulkan)/i);
  });
});
