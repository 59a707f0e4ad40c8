import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterEach, describe, expect, test } from 'vitest';
import { findRepoRoot, resolveCacheDir, resolveDataRoot } from './paths.js';
import { writePng } from './png.js';
import { patternImage, tempDir } from './test-fixtures.js';

describe('resolveDataRoot / resolveCacheDir', () => {
  const saved = { data: process.env.LVIT_DATA_ROOT, cache: process.env.LVIT_CACHE_DIR };
  afterEach(() => {
    for (const [key, value] of [['LVIT_DATA_ROOT', saved.data], ['LVIT_CACHE_DIR', saved.cache]] as const) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  });

  test('default: the nearest shared/data walking up (../shared beside the repo)', () => {
    delete process.env.LVIT_DATA_ROOT;
    const root = resolveDataRoot();
    expect(root.endsWith(join('shared', 'data'))).toBe(true);
    expect(existsSync(join(root, 'monuseg', 'text.csv'))).toBe(true);
  });

  test('flag beats env, env beats the search; a missing folder is an error naming its source', () => {
    const a = tempDir('root-a');
    const b = tempDir('root-b');
    process.env.LVIT_DATA_ROOT = a;
    expect(resolveDataRoot()).toBe(a);
    expect(resolveDataRoot(b)).toBe(b);
    expect(() => resolveDataRoot(join(b, 'nope'))).toThrow(/nope \(from the flag\) is not a directory/);
    process.env.LVIT_DATA_ROOT = join(a, 'missing');
    expect(() => resolveDataRoot()).toThrow(/missing \(from LVIT_DATA_ROOT\) is not a directory/);
  });

  test('cache dir: flag > LVIT_CACHE_DIR > <repo root>/.cache', () => {
    delete process.env.LVIT_CACHE_DIR;
    const repo = findRepoRoot()!;
    expect(JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')).name).toBe('lvit-bench');
    expect(resolveCacheDir()).toBe(join(repo, '.cache'));
    process.env.LVIT_CACHE_DIR = '/tmp/somewhere';
    expect(resolveCacheDir()).toBe('/tmp/somewhere');
    expect(resolveCacheDir('/tmp/flag')).toBe('/tmp/flag');
  });
});

describe('writePng', () => {
  test.each([1, 3] as const)('round trip, %i channel(s), atomic', async (channels) => {
    const dir = tempDir('png');
    const data = patternImage(7, 5, channels, 2);
    const path = join(dir, 'sub', `x${channels}.png`);
    await writePng(path, data, 7, 5, channels);
    const { data: back, info } = await sharp(path).raw().toBuffer({ resolveWithObject: true });
    expect([info.width, info.height]).toEqual([7, 5]);
    const firstChannel = [...back].filter((_, i) => i % info.channels === 0);
    expect(firstChannel).toEqual([...data].filter((_, i) => i % channels === 0));
    expect(readdirSync(join(dir, 'sub'))).toEqual([`x${channels}.png`]);
  });

  test('rejects a buffer that does not fit the size', async () => {
    await expect(writePng(join(tempDir('png'), 'bad.png'), new Uint8Array(10), 4, 4, 1)).rejects.toThrow(/bad\.png: 10 bytes do not fit 4x4x1/);
  });
});
