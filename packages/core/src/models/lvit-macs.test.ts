import { describe, expect, it } from 'vitest';
import { LViT } from './lvit.js';
import { lvitMacBreakdown, lvitMacsPerImage } from './lvit-macs.js';

describe('lvitMacsPerImage', () => {
  it('gives the published 26.97 G conv+linear and 0.15 G attention MACs at 224² (LVIT.md §1.8)', () => {
    const { convLinear, attentionMatmul } = lvitMacBreakdown();
    expect(Math.round(convLinear / 1e7) / 100).toBe(26.97);
    expect(Math.round(attentionMatmul / 1e7) / 100).toBe(0.15);
    expect(lvitMacsPerImage()).toBe(convLinear);
  });

  it('agrees with hand counts of single modules at the full config', () => {
    const { byModule } = lvitMacBreakdown();
    expect(byModule.inc).toBe(224 * 224 * 9 * 3 * 64);
    // every level's patch embedding is 196 · (C·p)² = 196 · 1024²; block = 196 · 12 C²
    expect(byModule.upVit3).toBe(196 * 12 * 512 * 512);
    expect(byModule.downVit3).toBe(196 * 1024 * 1024 + 196 * 12 * 512 * 512 + 196 * 3 * 512 * 256);
  });

  it('lists exactly the model\'s top-level modules, for LViT-T and LViT-TW', () => {
    for (const withText of [true, false]) {
      const config = { baseChannels: 4, imageSize: 32, tokenGrid: 2, heads: 2, withText };
      const model = new LViT(config);
      const tops = [...new Set(model.namedParameters().map(([n]) => n.split('.')[0]))].sort();
      expect(Object.keys(lvitMacBreakdown(config).byModule).sort()).toEqual(tops);
      model.dispose();
    }
  });

  it('drops the text cost for LViT-TW', () => {
    const diff = lvitMacsPerImage() - lvitMacsPerImage({ withText: false });
    expect(diff).toBe(10 * 3 * (768 * 512 + 512 * 256 + 256 * 128 + 128 * 64) + 64 * 3 * 10 * 196);
  });
});
