import { describe, expect, it } from 'vitest';
import { getProfile } from '../configs/profiles.js';
import { profileFromTurboArgs } from './turbo-profile.js';

describe('the profile on turbo’s command line', () => {
  it('is read in both spellings, and a typo reaches getProfile as the error it is', () => {
    expect(profileFromTurboArgs(['/x/turbo', 'run', 'reproduce', '--profile', 'smoke'])).toBe('smoke');
    expect(profileFromTurboArgs(['/x/turbo', 'run', 'reproduce', '--profile=paper'])).toBe('paper');
    expect(profileFromTurboArgs(['/x/turbo', 'run', 'reproduce'])).toBeUndefined();
    const typo = profileFromTurboArgs(['/x/turbo', 'run', 'reproduce', '--profile', 'smok']);
    expect(typo).toBe('smok');
    expect(() => getProfile(typo!)).toThrow(/Unknown profile 'smok'/);
  });
});
