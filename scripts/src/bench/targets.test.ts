import { DEFERRED_RUN, initBackend, onnxruntimeStats, resetOnnxruntimeStats } from '@lvit-bench/core';
import { describe, expect, it } from 'vitest';
import { parseFullSizeStep, suiteStepTargets, withTarget } from './targets.js';

describe('parseFullSizeStep', () => {
  it('reads the full-size step targets of the bench child mode', () => {
    expect(parseFullSizeStep('unet-full:8')).toEqual({ model: 'unet-full', batch: 8 });
    expect(parseFullSizeStep('lvit-full:2')).toEqual({ model: 'lvit-full', batch: 2 });
  });

  it('rejects other targets and batch 0', () => {
    for (const bad of ['lvit-full:0', 'transunet-full:2', 'unet-full', 'unet-full:2x']) expect(() => parseFullSizeStep(bad)).toThrow(/bad --child-step/);
  });
});

describe('the bench train steps on the onnxruntime engine', () => {
  it('each run as one recorded program up to the fused Adam: no kernel in the middle of a step forces a flush', async () => {
    await initBackend('onnxruntime', { log: () => {} });
    for (const make of suiteStepTargets(1)) {
      // A flush mid-step makes every value the rest of the step reads a graph output, which
      // onnxruntime-node copies (TransUNet's ResizeBilinearGrad on the cpu kernel: 4 flushes a step).
      const { label, flushes } = await withTarget(make, async (t) => {
        for (let i = 0; i < 2; i++) await t.step();
        resetOnnxruntimeStats();
        await t.step();
        const prefix = `${DEFERRED_RUN} before `;
        const rows = onnxruntimeStats().filter((s) => s.kernel.startsWith(prefix));
        return { label: `${t.model} (${t.config})`, flushes: rows.map((s) => `${s.kernel.slice(prefix.length)} x${s.calls}`) };
      });
      expect(flushes.filter((f) => f !== '(read) x1'), label).toEqual(['_OrtAdam x1']);
    }
  }, 120_000);
});
