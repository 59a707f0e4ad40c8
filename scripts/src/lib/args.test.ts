import { describe, expect, it } from 'vitest';
import { listFlag, parseFlags, stringFlag } from './args.js';

const KNOWN = { profile: 'string', resume: 'boolean', models: 'string' } as const;

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
});
