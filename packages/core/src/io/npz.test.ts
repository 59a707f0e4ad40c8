import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { npyBytes, npzBytes, parseNpy, readNpz } from './npz.js';

/**
 * The .npz reader against its own writer (stored and deflated), against NumPy both ways where
 * /usr/bin/python3 has numpy (np.savez, np.savez_compressed with their zip64 local headers, float32
 * and float64; np.load of our files), and on broken input.
 */
const dir = mkdtempSync(join(tmpdir(), 'npz-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const ARRAYS: [string, { shape: number[]; data: Float32Array }][] = [
  ['conv_root/kernel', { shape: [3, 3, 2, 4], data: Float32Array.from({ length: 72 }, (_, i) => Math.sin(i) * 1e3) }],
  ['Transformer/encoder_norm/scale', { shape: [5], data: Float32Array.from([1, -2.5, 3e-8, 0, 7]) }],
  ['scalar', { shape: [], data: Float32Array.from([Math.PI]) }],
];

describe('npz', () => {
  for (const compression of ['stored', 'deflated'] as const) {
    it(`reads back what it writes (${compression})`, () => {
      const got = readNpz(npzBytes(ARRAYS, compression), `${compression}.npz`);
      expect([...got.keys()]).toEqual(ARRAYS.map(([k]) => k));
      for (const [k, a] of ARRAYS) {
        expect(got.get(k)!.shape).toEqual(a.shape);
        expect(got.get(k)!.data).toEqual(a.data);
      }
    });
  }

  it('names the file and the entry on a corrupt archive, an unsupported dtype and a non-zip', () => {
    const bytes = npzBytes(ARRAYS.slice(0, 1), 'stored');
    const flipped = Buffer.from(bytes);
    flipped[200] ^= 0xff; // inside the first array's data
    expect(() => readNpz(flipped, 'w.npz')).toThrow('w.npz: conv_root/kernel.npy: CRC mismatch');
    expect(() => readNpz(Buffer.from('hello, not a zip at all, certainly not'), 'x.npz')).toThrow('x.npz: not a zip archive');
    const ints = npyBytes([2], Float32Array.from([1, 2]));
    ints.write("'<i4'", ints.indexOf("'<f4'"), 'latin1');
    expect(() => parseNpy(ints, 'i.npz: k.npy')).toThrow("i.npz: k.npy: dtype <i4 is not supported");
    const two = npyBytes([2], Float32Array.from([1, 2]));
    expect(() => parseNpy(two.subarray(0, two.length - 4), 'j.npz: k.npy')).toThrow('j.npz: k.npy: 4 data bytes for shape (2) of <f4, expected 8');
  });
});

const PY = '/usr/bin/python3';
const hasNumpy = spawnSync(PY, ['-c', 'import numpy'], { stdio: 'ignore' }).status === 0;
if (!hasNumpy) console.warn('npz.test.ts: NumPy cross-checks skipped: /usr/bin/python3 lacks numpy (apt-get install python3-numpy)');

describe.skipIf(!hasNumpy)('npz against NumPy', () => {
  it('reads np.savez and np.savez_compressed archives (float32 and float64) and NumPy reads ours', () => {
    const script = `
import numpy as np, sys
d = sys.argv[1]
a = {'block1/unit1/conv1/kernel': (np.arange(24, dtype=np.float32).reshape(1, 2, 3, 4) - 7.5) / 3,
     'gn_root/bias': np.arange(7) / 4 - 1,  # float64
     'Transformer/posembed_input/pos_embedding': np.sin(np.arange(2 * 5 * 3)).astype(np.float32).reshape(1, 10, 3)}
np.savez(d + '/plain.npz', **a)
np.savez_compressed(d + '/compressed.npz', **a)
for name in ('ts-stored.npz', 'ts-deflated.npz'):
    z = np.load(d + '/' + name)
    assert sorted(z.files) == sorted(['conv_root/kernel', 'Transformer/encoder_norm/scale', 'scalar']), z.files
    np.testing.assert_array_equal(z['conv_root/kernel'], (np.sin(np.arange(72)) * 1e3).astype(np.float32).reshape(3, 3, 2, 4))
    np.testing.assert_array_equal(z['Transformer/encoder_norm/scale'], np.array([1, -2.5, 3e-8, 0, 7], dtype=np.float32))
    assert z['scalar'].shape == () and z['scalar'].dtype == np.float32
print('ok')
`;
    writeFileSync(join(dir, 'ts-stored.npz'), npzBytes(ARRAYS, 'stored'));
    writeFileSync(join(dir, 'ts-deflated.npz'), npzBytes(ARRAYS, 'deflated'));
    expect(execFileSync(PY, ['-c', script, dir], { encoding: 'utf8' }).trim()).toBe('ok');
    for (const name of ['plain.npz', 'compressed.npz']) {
      const got = readNpz(readFileSync(join(dir, name)), name);
      const k = got.get('block1/unit1/conv1/kernel')!;
      expect(k.shape).toEqual([1, 2, 3, 4]);
      expect(k.descr).toBe('<f4');
      expect(Array.from(k.data)).toEqual(Array.from({ length: 24 }, (_, i) => Math.fround((i - 7.5) / 3)));
      const g = got.get('gn_root/bias')!;
      expect(g.descr).toBe('<f8');
      expect(Array.from(g.data)).toEqual(Array.from({ length: 7 }, (_, i) => Math.fround(i / 4 - 1)));
      expect(got.get('Transformer/posembed_input/pos_embedding')!.shape).toEqual([1, 10, 3]);
    }
  });
});
