import { describe, expect, it } from 'vitest';
import { DEMO_MAX_MODEL_BYTES, embeddedModels, type DemoCandidate } from './demo.js';

const MiB = 2 ** 20;
const row = (anchor: string, mib: number, labelPercent: number, semiSupervised = false): DemoCandidate => ({ anchor, bytes: mib * MiB, labelPercent, semiSupervised });

describe('models embedded in the try-it panel', () => {
  it('fills the budget with supervised rows, most labels first, then table order; semi-supervised rows last', () => {
    const rows = [row('unet-25', 4, 25), row('unet+epi-25', 4, 25, true), row('unet-100', 4, 100), row('lvit-50', 8, 50), row('lvit-100', 8, 100)];
    // 100 % rows (4 + 8), then the 50 % row (8): 20 MiB; the 25 % row would make 24.
    expect([...embeddedModels(rows, 20 * MiB)]).toEqual(['unet-100', 'lvit-100', 'lvit-50']);
    expect([...embeddedModels(rows, 28 * MiB)]).toEqual(['unet-100', 'lvit-100', 'lvit-50', 'unet-25', 'unet+epi-25']);
  });

  it('skips a row that does not fit and still takes smaller ones after it', () => {
    const rows = [row('big-100', 10, 100), row('small-100', 2, 100), row('small-50', 2, 50)];
    expect([...embeddedModels(rows, 5 * MiB)]).toEqual(['small-100', 'small-50']);
  });

  it('never embeds a model over the per-model limit, whatever the budget', () => {
    const huge: DemoCandidate = { anchor: 'transunet-full', bytes: DEMO_MAX_MODEL_BYTES + 1, labelPercent: 100, semiSupervised: false };
    expect(embeddedModels([huge], 10 * DEMO_MAX_MODEL_BYTES).size).toBe(0);
  });
});
