import type { Shape4 } from './reference.js';

/** The grid the conv-gradient patches are tested on: strides 1/2/3 x same/valid/explicit x kernels 1/2/3/5. */
export interface ConvCase {
  name: string;
  xShape: Shape4;
  filterShape: Shape4;
  strides: number;
  pad: 'same' | 'valid' | number[][];
}

export function convGradientCases(): ConvCase[] {
  const cases: ConvCase[] = [];
  const pads: ('same' | 'valid' | number[][])[] = [
    'same',
    'valid',
    [
      [0, 0],
      [1, 0],
      [2, 1],
      [0, 0],
    ],
  ];
  for (const strides of [1, 2, 3])
    for (const pad of pads)
      for (const k of [1, 2, 3, 5]) {
        const xShape: Shape4 = [2, 7, 9, 3];
        cases.push({ name: `s${strides} ${typeof pad === 'string' ? pad : 'explicit'} k${k}`, xShape, filterShape: [k, k, 3, 4], strides, pad });
      }
  // Exactly tiled up-conv shapes (kernel == stride, no padding): the GEMM + depth-to-space path.
  cases.push({ name: 'k2 s2 valid tiled', xShape: [2, 8, 6, 3], filterShape: [2, 2, 3, 5], strides: 2, pad: 'valid' });
  cases.push({ name: 'k3 s3 valid tiled', xShape: [1, 9, 6, 2], filterShape: [3, 3, 2, 4], strides: 3, pad: 'valid' });
  cases.push({ name: 'k3 s1 same wide', xShape: [1, 5, 5, 16], filterShape: [3, 3, 16, 24], strides: 1, pad: 'same' });
  return cases;
}
