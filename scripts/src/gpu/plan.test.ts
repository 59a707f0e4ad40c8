import { describe, expect, it } from 'vitest';
import { parseGroups, RESERVE_S, slowestStep, stepOrder, timeoutS } from './plan.js';

describe('GPU check plan', () => {
  it('cuts a budget to the time left, keeping the reserve; 0 when none is left', () => {
    expect(timeoutS(75, 0, 480)).toBe(75);
    expect(timeoutS(75, 420, 480)).toBe(60 - RESERVE_S);
    expect(timeoutS(75, 475, 480)).toBe(0);
  });

  it('orders steps small batch first, U-Net first, both routes per config', () => {
    expect(stepOrder(['webgpu', 'onnxruntime-webgpu']).map((s) => `${s.route}:${s.config.model}:${s.config.batch}`)).toEqual([
      'webgpu:unet:2', 'onnxruntime-webgpu:unet:2', 'webgpu:unet:8', 'onnxruntime-webgpu:unet:8',
      'webgpu:lvit:2', 'onnxruntime-webgpu:lvit:2', 'webgpu:lvit:8', 'onnxruntime-webgpu:lvit:8',
    ]);
  });

  it('--only keeps adapters and rejects unknown groups', () => {
    expect([...parseGroups('steps')]).toEqual(['adapters', 'steps']);
    expect(parseGroups(undefined).size).toBe(6);
    expect(() => parseGroups('steps,gpu')).toThrow(/unknown check gpu/);
  });

  it('profiles the step furthest behind PyTorch, or the slowest without PyTorch figures', () => {
    const steps = new Map([['unet:2', 300], ['unet:8', 1500], ['lvit:2', 900]]);
    expect(slowestStep(steps, new Map([['unet:2', 10], ['unet:8', 100], ['lvit:2', 60]]))).toBe('unet:2');
    expect(slowestStep(steps, new Map())).toBe('unet:8');
    expect(slowestStep(new Map(), new Map())).toBeNull();
  });
});
