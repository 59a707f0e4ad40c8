import * as tf from '@tensorflow/tfjs';
import { explicitPad, KernelScope, stockKernel, withKernelScope } from '../kernel-scope.js';
import { depthToSpaceNhwc } from './DepthToSpace.js';

/**
 * The stock wasm Conv2DBackpropInput is a naive loop (2.7-3.3 GFLOPS, 11x slower than Conv2D), and
 * tf.conv2dTranspose runs it in the *forward* pass, so it also slows the U-Net up path (ENGINE.md
 * §1.3). Rewritten on XNNPACK kernels for the two shapes conv nets use:
 * - stride 1: dx = conv2d(dy, W flipped spatially, in/out swapped) with padding k-1-p;
 * - kernel == stride, no padding (the 2x2/s2 up-conv): one GEMM plus depth-to-space (a transpose);
 * everything else keeps the stock kernel.
 */
type Info = tf.backend_util.Conv2DInfo;

/** stride 1: padding (k-1-p) on each side must be >= 0. */
function fitsStrideOne(info: Info): boolean {
  const { strideHeight, strideWidth, filterHeight: kh, filterWidth: kw, padInfo: p } = info;
  return strideHeight === 1 && strideWidth === 1 && p.top < kh && p.bottom < kh && p.left < kw && p.right < kw;
}

/** kernel == stride, no padding, and the input is exactly tiled by the kernel (no leftover rows). */
function fitsDepthToSpace(info: Info): boolean {
  const { strideHeight: sh, strideWidth: sw, filterHeight: kh, filterWidth: kw, padInfo: p } = info;
  return (
    kh === sh && kw === sw && kh === kw &&
    p.top === 0 && p.bottom === 0 && p.left === 0 && p.right === 0 &&
    info.inHeight === info.outHeight * sh && info.inWidth === info.outWidth * sw
  );
}

/** dy [N,OH,OW,Cout], W [KH,KW,Cin,Cout] -> dx [N,H,W,Cin] as a stride-1 convolution. */
function viaFlippedConv(s: KernelScope, dy: tf.TensorInfo, filter: tf.TensorInfo, info: Info): tf.TensorInfo {
  const { filterHeight: kh, filterWidth: kw, padInfo: p } = info;
  const flipped = s.run('Reverse', { x: filter }, { dims: [0, 1] });
  const swapped = s.transpose(flipped, [0, 1, 3, 2]); // [KH,KW,Cout,Cin]
  return s.run(
    'Conv2D',
    { x: dy, filter: swapped },
    {
      strides: [1, 1],
      pad: explicitPad(kh - 1 - p.top, kh - 1 - p.bottom, kw - 1 - p.left, kw - 1 - p.right),
      dataFormat: 'NHWC',
      dilations: [1, 1],
      dimRoundingMode: undefined as unknown as string,
    },
  );
}

/** Non-overlapping kernel: dx[n, oh*k+i, ow*k+j, ci] = sum_co dy[n,oh,ow,co] W[i,j,ci,co]. */
function viaGemmDepthToSpace(s: KernelScope, dy: tf.TensorInfo, filter: tf.TensorInfo, info: Info): tf.TensorInfo {
  const { batchSize: n, outHeight: oh, outWidth: ow, outChannels: cout, inChannels: cin, filterHeight: k } = info;
  const rows = s.reshape(dy, [1, n * oh * ow, cout]);
  const wT = s.reshape(s.transpose(filter, [3, 0, 1, 2]), [1, cout, k * k * cin]); // [Cout, (i,j,ci)]
  const blocks = s.run('BatchMatMul', { a: rows, b: wT }, { transposeA: false, transposeB: false });
  const nhwc = s.reshape(blocks, [n, oh, ow, k * k * cin]);
  return depthToSpaceNhwc(s, nhwc, k); // the stock wasm DepthToSpace is ~50x slower
}

export const wasmConv2DBackpropInputConfig: tf.KernelConfig = {
  kernelName: 'Conv2DBackpropInput',
  backendName: 'wasm',
  kernelFunc: (args) => {
    const { inputs, backend, attrs } = args;
    const { dy, filter } = inputs as { dy: tf.TensorInfo; filter: tf.TensorInfo };
    const { strides, pad, dataFormat, dimRoundingMode, inputShape } = attrs as unknown as tf.Conv2DBackpropInputAttrs;
    if (dataFormat !== 'NHWC') return stockKernel('Conv2DBackpropInput', 'wasm').kernelFunc(args);
    const info = tf.backend_util.computeConv2DInfo(
      inputShape,
      filter.shape as [number, number, number, number],
      strides,
      1,
      pad,
      dimRoundingMode,
      false,
      'channelsLast',
    );
    if (fitsStrideOne(info)) return withKernelScope(backend, 'wasm', (s) => viaFlippedConv(s, dy, filter, info));
    if (fitsDepthToSpace(info)) return withKernelScope(backend, 'wasm', (s) => viaGemmDepthToSpace(s, dy, filter, info));
    return stockKernel('Conv2DBackpropInput', 'wasm').kernelFunc(args);
  },
};
