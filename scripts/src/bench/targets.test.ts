import { describe, expect, it } from 'vitest';
import { parseFullSizeStep } from './targets.js';

describe('parseFullSizeStep', () => {
  it('reads the full-size step targets of the bench child mode', () => {
    expect(parseFullSizeStep('unet-full:8')).toEqual({ model: 'unet-full', batch: 8 });
    expect(parseFullSizeStep('lvit-full:2')).toEqual({ model: 'lvit-full', batch: 2 });
  });

  it('rejects other targets and batch 0', () => {
    for (const bad of ['lvit-full:0', 'transunet-full:2', 'unet-full', 'unet-full:2x']) expect(() => parseFullSizeStep(bad)).toThrow(/bad --child-step/);
  });
});
