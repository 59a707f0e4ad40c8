import { describe, expect, it } from 'vitest';
import { getProfile, PROFILES } from './profiles.js';
import { ABLATION_SEMI_MODELS, MAIN_SEMI_MODELS, SEMI_VARIANTS } from './semi.js';

describe('profiles', () => {
  it('paper is the official setting and the others are labelled reduced', () => {
    const paper = getProfile('paper');
    expect(paper.reduced).toBe(false);
    expect(paper.data.monuseg.imageSize).toBe(224);
    expect(paper.modelConfigs['lvit-t']).toMatchObject({ baseChannels: 64, tokenGrid: 14 });
    expect(paper.schedules.monuseg).toMatchObject({ batchSize: 2, maxEpochs: 2000, patience: 50, lr0: 1e-3 });
    expect(paper.schedules.qata.lr0).toBe(3e-4);
    expect(getProfile('quick').reduced).toBe(true);
    expect(getProfile('smoke').reduced).toBe(true);
  });

  it('every profile trains TransUNet; quick and smoke cut depth and width but keep every block', () => {
    for (const profile of Object.values(PROFILES)) expect(profile.models, profile.name).toContain('transunet');
    expect(getProfile('paper').modelConfigs.transunet).toMatchObject({ resnetUnits: [3, 4, 9], numLayers: 12, hiddenSize: 768, decoderChannels: [256, 128, 64, 16] });
    for (const name of ['quick', 'smoke']) {
      const c = getProfile(name).modelConfigs.transunet as { resnetUnits: number[]; numLayers: number; nSkip: number };
      // Unit 1 of each block has the projection, block 2's unit 2 is an identity-residual bottleneck.
      expect(c.resnetUnits, name).toEqual([1, 2, 2]);
      expect(c.numLayers, name).toBeGreaterThanOrEqual(2);
      expect(c.nSkip, name).toBe(3);
    }
    expect(getProfile('quick').modelConfigs.transunet).toMatchObject({ widthFactor: 0.5, hiddenSize: 64, numHeads: 4, mlpDim: 256, headChannels: 64, decoderChannels: [64, 32, 16, 16] });
  });

  it('every LViT config gives integer patch sizes at all four levels', () => {
    for (const profile of Object.values(PROFILES)) {
      for (const dataset of profile.datasets) {
        const size = profile.data[dataset].imageSize;
        const grid = profile.modelConfigs['lvit-t'].tokenGrid as number;
        for (let level = 0; level < 4; level++) {
          expect(Number.isInteger(size / 2 ** level / grid), `${profile.name}/${dataset} level ${level}`).toBe(true);
        }
      }
    }
  });

  it('semi-supervised variants are known, start from a model of the profile, and run only below 100 % labels', () => {
    for (const profile of Object.values(PROFILES)) {
      for (const dataset of profile.datasets) {
        for (const [fraction, models] of Object.entries(profile.semiModels[dataset])) {
          expect(Number(fraction), `${profile.name}/${dataset}`).toBeLessThan(100);
          expect(profile.fractions).toContain(Number(fraction));
          for (const model of models) {
            const variant = SEMI_VARIANTS[model];
            expect(variant, `${profile.name}: ${model}`).toBeDefined();
            expect(profile.models).toContain(variant.base);
            // The LV loss compares texts: only the text model has it.
            if (variant.lv) expect(variant.base).toBe('lvit-t');
          }
        }
      }
    }
    // The paper's comparison set and both ablations run at 25 % on MoNuSeg in quick (3 seeds).
    expect(getProfile('quick').semiModels.monuseg[25]).toEqual([...MAIN_SEMI_MODELS, ...ABLATION_SEMI_MODELS]);
    expect(getProfile('quick').seeds.monuseg).toHaveLength(3);
  });

  it('names the valid profiles when asked for an unknown one', () => {
    expect(() => getProfile('fast')).toThrow(/smoke, quick, paper/);
  });
});
