import { describe, expect, it } from 'vitest';
import { getProfile, PROFILES } from './profiles.js';

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

  it('names the valid profiles when asked for an unknown one', () => {
    expect(() => getProfile('fast')).toThrow(/smoke, quick, paper/);
  });
});
