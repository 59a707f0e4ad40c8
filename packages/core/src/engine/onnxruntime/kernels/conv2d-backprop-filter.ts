import type * as tf from '@tensorflow/tfjs';
import type { NativeRun } from '../deferred.js';
import { nativeConvFilter } from '../native.js';
import type { GraphBuilder } from '../onnx-graph.js';
import { convInfoOf } from './conv2d.js';
import { OrtKernel, OrtKernelArgs, sigs } from './util.js';

/**
 * Conv2DBackpropFilter (dW of a conv), NHWC, as tap GEMMs (ENGINE.md §11: the fastest ONNX
 * formulation measured): pad x once; for each filter tap (i,j) take the strided slice of x that tap
 * sees, [B*OH*OW, Cin], and dW[i,j] = slice^T x dy [B*OH*OW, Cout] in one `Gemm(transA)`. With
 * stride 1 and fewer output than input channels, dy is shifted instead (`dyShiftedTaps`): the copies
 * are then of the smaller tensor.
 * x [B,H,W,Cin], dy [B,OH,OW,Cout] -> dW [kh,kw,Cin,Cout]. Works in NHWC directly: no transposes.
 *
 * Where native/conv-filter.cc is built (AVX-512 or AVX2 + FMA) and there is no dilation, that
 * direct kernel runs instead, reading x and dy in place (deferred: after the step's graph, which
 * returns x and dy to it). Measured on this repo's 2-vCPU machine, 3x3 'same' (ms, ONNX taps /
 * native): [2,224,224,64] -> 64: 94 / 41; [2,224,224,128] -> 64: 177-183 / 82; [2,112,112,256] ->
 * 128: 122 / 81; [2,56,56,512] -> 256: 86 / 88; [4,128,128,16] -> 16: 8.6 / 1.7.
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
  return args.backend.runGraph('Conv2DBackpropFilter', key, build, [x, dy], nativeRun(info, args.backend.options.intraOpNumThreads))[0];
}

/** The direct kernel for this geometry, or undefined where it is not built or the conv is dilated. */
function nativeRun(info: tf.backend_util.Conv2DInfo, threads = 1): NativeRun | undefined {
  const native = nativeConvFilter();
  if (!native || info.dilationHeight !== 1 || info.dilationWidth !== 1) return undefined;
  const geometry = nativeDwGeometry(info);
  return ([x, dy], [dw]) => native.conv2dBackpropFilter(x as Float32Array, dy as Float32Array, dw as Float32Array, geometry, threads);
}

/** The addon's geometry argument: [N,H,W,Cin, OH,OW,Cout, kh,kw, strideH,strideW, padTop,padLeft]. */
export function nativeDwGeometry(info: tf.backend_util.Conv2DInfo): Int32Array {
  const p = info.padInfo;
  return Int32Array.of(info.batchSize, info.inHeight, info.inWidth, info.inChannels, info.outHeight, info.outWidth, info.outChannels,
    info.filterHeight, info.filterWidth, info.strideHeight, info.strideWidth, p.top, p.left);
}

function buildTaps(g: GraphBuilder, xShape: number[], dyShape: number[], info: tf.backend_util.Conv2DInfo): string {
  const x = g.input('float32', xShape);
  const dy = g.input('float32', dyShape);
  const p = info.padInfo;
  const [kh, kw, cin, cout] = [info.filterHeight, info.filterWidth, info.inChannels, info.outChannels];
  const [sh, sw, oh, ow] = [info.strideHeight, info.strideWidth, info.outHeight, info.outWidth];
  const [hp, wp] = [xShape[1] + p.top + p.bottom, xShape[2] + p.left + p.right];
  const padX = () => padHW(g, x, p.top, p.left, p.bottom, p.right);
  if (shiftDy(info, hp, wp)) return stack(g, dyShiftedTaps(g, padX(), dy, xShape[0] * hp * wp, info), info);
  const n = xShape[0] * oh * ow;
  const chunks = splitCount(n, cin, cout);
  const dyRows = toRows(g, dy, n, cout, chunks);
  const xp = padX();
  const taps: string[] = [];
  for (let i = 0; i < kh; i++) {
    for (let j = 0; j < kw; j++) {
      const full = i === 0 && j === 0 && sh === 1 && sw === 1 && oh === hp && ow === wp;
      const window = full ? xp : g.op('Slice', [xp, g.int64([i, j]), g.int64([i + sh * (oh - 1) + 1, j + sw * (ow - 1) + 1]), g.int64([1, 2]), g.int64([sh, sw])]);
      taps.push(tapProduct(g, toRows(g, window, n, cin, chunks), dyRows, chunks));
    }
  }
  return stack(g, taps, info);
}

/**
 * Stride 1 with fewer output than input channels (a decoder conv after a skip concat): shift dy
 * instead of x. dW[i,j] = Σ x_pad[a,b]ᵀ · dy[a-i, b-j] over the whole padded grid, where dy shifted
 * by (i,j) and zero elsewhere is one Pad of dy; each tap then copies Cout channels instead of Cin,
 * for a reduction over Hp·Wp instead of OH·OW positions.
 */
function dyShiftedTaps(g: GraphBuilder, xp: string, dy: string, n: number, info: tf.backend_util.Conv2DInfo): string[] {
  const [kh, kw, cin, cout] = [info.filterHeight, info.filterWidth, info.inChannels, info.outChannels];
  const chunks = splitCount(n, cin, cout);
  const xRows = toRows(g, xp, n, cin, chunks);
  const taps: string[] = [];
  for (let i = 0; i < kh; i++) {
    for (let j = 0; j < kw; j++) {
      const shifted = padHW(g, dy, i, j, kh - 1 - i, kw - 1 - j);
      taps.push(tapProduct(g, xRows, toRows(g, shifted, n, cout, chunks), chunks));
    }
  }
  return taps;
}

/**
 * Where shifting dy beats slicing x: stride 1, no dilation, fewer output than input channels, and a
 * padded grid at most 10 % longer than the output (3x3 'same' from 56² up). Measured, eagerly, 3x3
 * (ms, x slices / dy shifts): [2,224,224,128] -> 64: 219-228 / 177-183; [2,112,112,256] -> 128:
 * 138 / 122; [2,56,56,512] -> 256: 93 / 86; [2,28,28,512] -> 256: 22.6 / 24.0 (the 15 % longer
 * reduction). Full-width U-Net step, interleaved in one process: 2161 -> 2111 ms median.
 * Cropping x with negative Pads instead of Slices was slower there (2252).
 */
function shiftDy(info: tf.backend_util.Conv2DInfo, hp: number, wp: number): boolean {
  if (info.strideHeight !== 1 || info.strideWidth !== 1 || info.dilationHeight !== 1 || info.dilationWidth !== 1) return false;
  if (hp !== info.outHeight + info.filterHeight - 1 || wp !== info.outWidth + info.filterWidth - 1) return false;
  return info.outChannels < info.inChannels && hp * wp <= 1.1 * info.outHeight * info.outWidth;
}

/** [B,H,W,C] zero-padded along H and W; t itself where nothing is added. */
function padHW(g: GraphBuilder, t: string, top: number, left: number, bottom: number, right: number): string {
  if (top === 0 && left === 0 && bottom === 0 && right === 0) return t;
  return g.op('Pad', [t, g.int64([0, top, left, 0, 0, bottom, right, 0])]);
}

/** [B,H,W,C] as the rows of one GEMM operand, or as `chunks` batched pieces of rows. */
function toRows(g: GraphBuilder, t: string, n: number, c: number, chunks: number): string {
  return g.op('Reshape', [t, g.int64(chunks > 1 ? [chunks, n / chunks, c] : [n, c])]);
}

/** aᵀ·b for one tap: [Cin, Cout]. Cut into `chunks` batched products, summed: MLAS does not split one GEMM with small M, N over its threads. */
function tapProduct(g: GraphBuilder, a: string, b: string, chunks: number): string {
  if (chunks === 1) return g.op('Gemm', [a, b], { transA: { i: 1 } });
  const at = g.op('Transpose', [a], { perm: { ints: [0, 2, 1] } });
  return g.op('ReduceSum', [g.op('MatMul', [at, b]), g.int64([0])], { keepdims: { i: 0 } });
}

/** The taps [Cin, Cout] each, as the filter gradient [kh, kw, Cin, Cout]. */
function stack(g: GraphBuilder, taps: string[], info: tf.backend_util.Conv2DInfo): string {
  const stacked = taps.length === 1 ? taps[0] : g.op('Concat', taps, { axis: { i: 0 } }); // [kh*kw*Cin, Cout]
  return g.op('Reshape', [stacked, g.int64([info.filterHeight, info.filterWidth, info.inChannels, info.outChannels])]);
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
