import { describe, expect, it } from 'vitest';
import { skipOutsideCi } from '../../io/prerequisite.js';
import { convInfo, naiveConv2DBackpropFilter, relativeMaxError, seededValues } from '../kernels/reference.js';
import { nativeDwGeometry } from './kernels/conv2d-backprop-filter.js';
import { loadedConvFilter, nativeConvFilterStatus } from './native.js';

/** native/conv-filter.cc against the float64 reference loop, with every instruction set this CPU runs. */
const addon = loadedConvFilter();
const skip = skipOutsideCi('native-conv-filter.test.ts', addon ? null : `the native dW kernel is not in use (${nativeConvFilterStatus()})`);

type Shape4 = [number, number, number, number];

describe.skipIf(skip)('native dW kernel (native/conv-filter.cc)', () => {
  // Channel counts around the tile sizes (8 or 6 input channels, 16/32 or 8/16 output channels), strides, pads on every side;
  // more output channels than a tile (dy packed per block, with a tail) and >= 256 input channels (x packed; 264 divides by 8 and 6).
  const cases: [Shape4, Shape4, number, 'same' | 'valid' | number[][]][] = [
    [[2, 9, 7, 3], [3, 3, 3, 5], 1, 'same'],
    [[2, 10, 9, 17], [3, 3, 17, 33], 1, 'same'],
    [[1, 11, 10, 13], [3, 3, 13, 16], 2, 'same'],
    [[2, 8, 8, 6], [2, 2, 6, 7], 2, 'valid'],
    [[1, 12, 12, 9], [5, 5, 9, 40], 3, 'same'],
    [[2, 8, 8, 16], [1, 1, 16, 8], 1, 'valid'],
    [[1, 8, 7, 3], [3, 3, 3, 4], 1, [[0, 0], [0, 2], [1, 0], [0, 0]]],
    [[1, 4, 4, 2], [3, 3, 2, 1], 1, [[0, 0], [3, 3], [3, 3], [0, 0]]], // pads wider than x: taps that see no input
    [[2, 20, 20, 64], [3, 3, 64, 64], 1, 'same'],
    [[1, 6, 5, 264], [3, 3, 264, 40], 1, 'same'],
    [[2, 7, 6, 264], [2, 2, 264, 33], 2, 'same'],
  ];
  for (const isa of addon?.isas() ?? []) {
    for (const threads of [1, 2, 3]) {
      it(`matches the float64 reference (${isa}, ${threads} thread${threads > 1 ? 's' : ''})`, () => {
        for (const [xShape, wShape, s, pad] of cases) {
          const info = convInfo(xShape, wShape, s, pad);
          const x = seededValues(xShape.reduce((a, b) => a * b), 1);
          const dy = seededValues(info.batchSize * info.outHeight * info.outWidth * info.outChannels, 2);
          const dw = new Float32Array(wShape.reduce((a, b) => a * b)).fill(Number.NaN); // every entry must be written
          addon!.conv2dBackpropFilter(x, dy, dw, nativeDwGeometry(info), threads, isa);
          expect(relativeMaxError(dw, naiveConv2DBackpropFilter(x, dy, info)), `x ${xShape} w ${wShape} s${s} ${JSON.stringify(pad)}`).toBeLessThan(1e-6);
        }
      });
    }
  }

  it('lays filters out in the NCHWc order the ONNX reorder writes (plain and flipped for dX)', () => {
    // Reference: the index map of the in-graph Reshape [kh,kw,I/b,bi,O/b,bo] + Transpose [4,2,0,1,3,5]
    // (nhwc-conv.ts), applied to the filter the conv reads (for dX: flipped, Cin and Cout swapped).
    const reference = (w: Float32Array, [kh, kw, ci, co]: number[], b: number, flipped: boolean) => {
      const [I, O] = flipped ? [co, ci] : [ci, co];
      const read = (i: number, j: number, c: number, k: number) => (flipped ? w[(((kh - 1 - i) * kw + (kw - 1 - j)) * ci + k) * co + c] : w[((i * kw + j) * ci + c) * co + k]);
      const out = new Float32Array(w.length);
      let n = 0;
      for (let o = 0; o < O / b; o++) for (let c = 0; c < I / b; c++) for (let i = 0; i < kh; i++) for (let j = 0; j < kw; j++)
        for (let bi = 0; bi < b; bi++) for (let bo = 0; bo < b; bo++) out[n++] = read(i, j, c * b + bi, o * b + bo);
      return out;
    };
    for (const [shape, b] of [[[3, 3, 32, 16], 16], [[3, 2, 16, 48], 16], [[1, 1, 8, 24], 8], [[5, 5, 64, 128], 16]] as [number[], number][]) {
      for (const flipped of [false, true]) {
        const w = seededValues(shape.reduce((a, c) => a * c), 3);
        const out = new Float32Array(w.length);
        addon!.nchwcFilter(w, out, Int32Array.of(...shape, b, flipped ? 1 : 0), 2);
        expect(out, `${shape} block ${b}${flipped ? ' flipped' : ''}`).toEqual(reference(w, shape, b, flipped));
      }
    }
    expect(() => addon!.nchwcFilter(new Float32Array(9 * 24 * 16), new Float32Array(9 * 24 * 16), Int32Array.of(3, 3, 24, 16, 16, 0), 1)).toThrow(/multiples of the block/);
  });

  it('rejects arrays that do not match the geometry and unknown instruction sets, naming the problem', () => {
    const info = convInfo([1, 4, 4, 2], [3, 3, 2, 3], 1, 'same');
    const [x, dy, dw] = [new Float32Array(32), new Float32Array(48), new Float32Array(54)];
    expect(() => addon!.conv2dBackpropFilter(x, dy, new Float32Array(53), nativeDwGeometry(info), 1)).toThrow(/does not match the geometry/);
    expect(() => addon!.conv2dBackpropFilter(x, new Float64Array(48) as unknown as Float32Array, dw, nativeDwGeometry(info), 1)).toThrow(/Float32Arrays/);
    expect(() => addon!.conv2dBackpropFilter(x, dy, dw, Int32Array.of(1, 4), 1)).toThrow(/Int32Array of 13/);
    expect(() => addon!.conv2dBackpropFilter(x, dy, dw, nativeDwGeometry(info), 1, 'neon')).toThrow(/not supported/);
    addon!.conv2dBackpropFilter(x, dy, dw, nativeDwGeometry(info), 1); // and the right arrays run
  });
});
