import { describe, expect, it } from 'vitest';
import { remapPixels, unmapPixels } from './pixel-map.js';

describe('pixel maps', () => {
  it('remap gathers per channel with zero fill and never modifies the input', () => {
    const src = Float32Array.from([1, 10, 2, 20, 3, 30, 4, 40]); // 4 pixels x 2 channels
    const map = Int32Array.from([3, -1, 0, 0]);
    expect(Array.from(remapPixels(src, map, 2))).toEqual([4, 40, 0, 0, 1, 10, 1, 10]);
    expect(Array.from(src)).toEqual([1, 10, 2, 20, 3, 30, 4, 40]);
    const identity = remapPixels(Uint8Array.from([1, 0]), null, 1);
    expect(identity).toBeInstanceOf(Uint8Array);
    expect(Array.from(identity)).toEqual([1, 0]);
    expect(() => remapPixels(src, map, 1)).toThrow(/8 values do not fit a 4-pixel map/);
  });

  it('unmap averages the outputs that came from each source and marks sources none came from', () => {
    // Outputs 0 and 1 both came from source 0, output 2 was zero fill, output 3 came from source 3.
    const back = unmapPixels(Float32Array.from([1, 3, 5, 7]), Int32Array.from([0, 0, -1, 3]));
    expect(Array.from(back.values)).toEqual([2, 0, 0, 7]);
    expect(Array.from(back.hit)).toEqual([1, 0, 0, 1]);
    // A permutation (a flip) round-trips exactly.
    const flip = Int32Array.from([2, 1, 0]);
    const x = Float32Array.from([0.1, 0.5, 0.9]);
    const there = remapPixels(x, flip, 1);
    expect(Array.from(unmapPixels(there, flip).values)).toEqual(Array.from(x));
    expect(Array.from(unmapPixels(x, null).hit)).toEqual([1, 1, 1]);
  });
});
