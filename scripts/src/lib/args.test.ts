import { describe, expect, it } from 'vitest';
import { intListFlag, listFlag, parseFlags, stringFlag } from './args.js';

const KNOWN = { profile: 'string', resume: 'boolean', models: 'string', seeds: 'string' } as const;

describe('parseFlags', () => {
  it('reads separate and inline values, booleans and lists', () => {
    const f = parseFlags(['--profile', 'smoke', '--resume', '--models=unet,lvit-t'], KNOWN);
    expect(stringFlag(f, 'profile')).toBe('smoke');
    expect(f.resume).toBe(true);
    expect(listFlag(f, 'models')).toEqual(['unet', 'lvit-t']);
  });

  it('rejects unknown flags, listing the known ones', () => {
    expect(() => parseFlags(['--profle', 'smoke'], KNOWN)).toThrow(/Unknown flag '--profle'.*--profile/);
  });

  it('rejects a value-taking flag without a value', () => {
    expect(() => parseFlags(['--profile'], KNOWN)).toThrow(/needs a value/);
    expect(() => parseFlags(['--profile', '--resume'], KNOWN)).toThrow(/needs a value/);
  });

  it('validates list flags: non-empty, no duplicates, integers where integers are meant', () => {
    const seeds = (v: string) => intListFlag(parseFlags(['--seeds', v], KNOWN), 'seeds');
    expect(seeds('666, 667')).toEqual([666, 667]);
    expect(() => seeds('abc')).toThrow(/'--seeds' takes non-negative integers, got 'abc'/);
    expect(() => seeds('6.5')).toThrow(/got '6.5'/);
    expect(() => seeds('-1')).toThrow(/got '-1'/);
    expect(() => seeds(',')).toThrow(/'--seeds' needs at least one value/);
    expect(() => seeds('666,666')).toThrow(/lists 666 more than once/);
    expect(() => listFlag(parseFlags(['--models', 'unet,unet'], KNOWN), 'models')).toThrow(/lists unet more than once/);
  });
});
