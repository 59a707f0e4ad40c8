import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { chooseGpuRoute, gpuRouteOrder, GPU_ROUTE_SCHEMA } from './gpu-route.js';

const dir = mkdtempSync(join(tmpdir(), 'gpu-route-'));
function file(name: string, content: string): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

describe('gpuRouteOrder', () => {
  it('without a measured choice: the ORT route first, saying why', () => {
    const { order, reason } = gpuRouteOrder('');
    expect(order).toEqual(['onnxruntime-webgpu', 'webgpu']);
    expect(reason).toMatch(/default order, neither measured yet: tfjs-webgpu cannot read GPU data synchronously/);
  });

  it('a measured choice puts the faster route first and names where it was measured', () => {
    const path = file('choice.json', JSON.stringify({ schema: GPU_ROUTE_SCHEMA, faster: 'webgpu', adapter: 'nvidia hopper', measuredAt: '2026-12-02T00:00:00.000Z', timings: [] }));
    const { order, reason } = gpuRouteOrder(path);
    expect(order).toEqual(['webgpu', 'onnxruntime-webgpu']);
    expect(reason).toContain('measured on nvidia hopper');
  });

  it('a missing or malformed file is a one-line error naming it', () => {
    expect(() => gpuRouteOrder(join(dir, 'absent.json'))).toThrow(/cannot read the GPU route choice .*absent\.json/);
    expect(() => gpuRouteOrder(file('bad.json', JSON.stringify({ schema: GPU_ROUTE_SCHEMA, faster: 'wasm' })))).toThrow(/bad\.json is not a lvit-bench\/gpu-route@1 file/);
  });
});

describe('chooseGpuRoute', () => {
  const at = new Date('2026-12-02T01:00:00Z');

  it('takes the smaller sum of medians over configs timed on both routes', () => {
    const choice = chooseGpuRoute(
      [
        { config: 'unet b2', medianMs: { webgpu: 300, 'onnxruntime-webgpu': 200 } },
        { config: 'unet b8', medianMs: { webgpu: 1000, 'onnxruntime-webgpu': 1500 } },
        { config: 'lvit b8', medianMs: { 'onnxruntime-webgpu': 10 } },
      ],
      'gpu',
      at,
    );
    expect(choice?.faster).toBe('webgpu');
    expect(choice?.timings.map((t) => t.config)).toEqual(['unet b2', 'unet b8']);
    expect(choice?.measuredAt).toBe('2026-12-02T01:00:00.000Z');
  });

  it('takes the only route that ran where none ran on both; null when neither ran', () => {
    expect(chooseGpuRoute([{ config: 'unet b2', medianMs: { 'onnxruntime-webgpu': 300 } }, { config: 'unet b8', medianMs: {} }], 'gpu', at)?.faster).toBe('onnxruntime-webgpu');
    expect(chooseGpuRoute([{ config: 'unet b2', medianMs: {} }], 'gpu', at)).toBeNull();
  });
});
