import type * as tf from '@tensorflow/tfjs';
import type { GraphBuilder } from '../onnx-graph.js';
import { convInfoOf } from './conv2d.js';
import { OrtKernel, OrtKernelArgs, sigs } from './util.js';

/**
 * Conv2DBackpropFilter (dW of a conv), NHWC, as tap GEMMs (ENGINE.md §11: the fastest ONNX
 * formulation measured): pad x once; for each filter tap (i,j) take the strided slice of x that tap
 * sees, [B*OH*OW, Cin], and dW[i,j] = slice^T x dy [B*OH*OW, Cout] in one `Gemm(transA)`.
 * x [B,H,W,Cin], dy [B,OH,OW,Cout] -> dW [kh,kw,Cin,Cout]. Works in NHWC directly: no transposes.
 */

interface BpfAttrs {
  strides: number | [number, number];
  pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
  dataFormat: 'NHWC' | 'NCHW';
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  filterShape: [number, number, number, number];
}

function run(args: OrtKernelArgs): tf.TensorInfo | null {
  const { x, dy } = args.inputs;
  const a = args.attrs as unknown as BpfAttrs;
  if (a.dataFormat === 'NCHW' || x.dtype !== 'float32' || dy.dtype !== 'float32') return null;
  const info = convInfoOf(x.shape, a.filterShape, a);
  if (info.outHeight !== dy.shape[1] || info.outWidth !== dy.shape[2] || info.outChannels !== dy.shape[3]) return null;
  const p = info.padInfo;
  const key = `BPF:${sigs([x, dy])}${a.filterShape.join('x')}:${info.strideHeight},${info.strideWidth},${p.top},${p.bottom},${p.left},${p.right}`;
  const build = (g: GraphBuilder) => g.output(buildTaps(g, x.shape, dy.shape, info), 'float32', a.filterShape);
  return args.backend.runGraph('Conv2DBackpropFilter', key, build, [x, dy])[0];
}

function buildTaps(g: GraphBuilder, xShape: number[], dyShape: number[], info: tf.backend_util.Conv2DInfo): string {
  const x = g.input('float32', xShape);
  const dy = g.input('float32', dyShape);
  const p = info.padInfo;
  const [kh, kw, cin, cout] = [info.filterHeight, info.filterWidth, info.inChannels, info.outChannels];
  const [sh, sw, oh, ow] = [info.strideHeight, info.strideWidth, info.outHeight, info.outWidth];
  const padded = p.top + p.bottom + p.left + p.right > 0;
  const xp = padded ? g.op('Pad', [x, g.int64([0, p.top, p.left, 0, 0, p.bottom, p.right, 0])]) : x;
  const n = xShape[0] * oh * ow;
  const chunks = splitCount(n, cin, cout);
  const dy2 = g.op('Reshape', [dy, g.int64(chunks > 1 ? [chunks, n / chunks, cout] : [n, cout])]);
  const taps: string[] = [];
  for (let i = 0; i < kh; i++) {
    for (let j = 0; j < kw; j++) {
      const full = i === 0 && j === 0 && sh === 1 && sw === 1 && oh === xShape[1] + p.top + p.bottom && ow === xShape[2] + p.left + p.right;
      const slice = full
        ? xp
        : g.op('Slice', [xp, g.int64([i, j]), g.int64([i + sh * (oh - 1) + 1, j + sw * (ow - 1) + 1]), g.int64([1, 2]), g.int64([sh, sw])]);
      if (chunks > 1) {
        // K split into `chunks` batched products, summed: MLAS does not split one GEMM with small M, N over its threads.
        const xs = g.op('Transpose', [g.op('Reshape', [slice, g.int64([chunks, n / chunks, cin])])], { perm: { ints: [0, 2, 1] } });
        taps.push(g.op('ReduceSum', [g.op('MatMul', [xs, dy2]), g.int64([0])], { keepdims: { i: 0 } }));
      } else {
        const x2 = g.op('Reshape', [slice, g.int64([-1, cin])]);
        taps.push(g.op('Gemm', [x2, dy2], { transA: { i: 1 } })); // [Cin, Cout]
      }
    }
  }
  const stacked = taps.length === 1 ? taps[0] : g.op('Concat', taps, { axis: { i: 0 } }); // [kh*kw*Cin, Cout]
  return g.op('Reshape', [stacked, g.int64([kh, kw, cin, cout])]);
}

/**
 * How many batched pieces to cut the reduction (B*OH*OW) into. One GEMM with a small Cin x Cout and
 * a huge K keeps MLAS's second thread mostly idle; a batched MatMul over K pieces (then a ReduceSum)
 * uses both. Measured in one ORT graph, 2 threads, 3x3 taps (ms; pieces 1 / 2 / 4 / 16):
 * [2,224,224,64] -> 64: 117-134 / 105 / 94 / 94; [2,112,112,128] -> 128: 55 / 46 / 49 / 49;
 * [2,56,56,256] -> 256: 40.5 / 41.3 / 41.6 / 41.7; [4,128,128,16] -> 16: 11.1 / 8.9 / 8.6 / 9.3
 * (earlier, eagerly: [4,128,128,32] -> 16 with 16 pieces 11-17 vs 20-30). Pieces stay >= 4096 rows.
 */
function splitCount(n: number, cin: number, cout: number): number {
  const channels = cin * cout;
  const wanted = channels <= 1024 ? 16 : channels <= 4096 ? 4 : channels <= 16384 ? 2 : 1;
  for (let pieces = wanted; pieces > 1; pieces /= 2) if (n % pieces === 0 && n / pieces >= 4096) return pieces;
  return 1;
}

export const conv2dBackpropFilterKernels: OrtKernel[] = [{ kernelName: 'Conv2DBackpropFilter', run }];
