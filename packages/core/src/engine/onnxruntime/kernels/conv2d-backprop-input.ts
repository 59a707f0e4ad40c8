import type * as tf from '@tensorflow/tfjs';
import type { GraphBuilder } from '../onnx-graph.js';
import { convInfoOf } from './conv2d.js';
import { blockedFilter, buildNhwcConv, disposeBlockedFilter, flippedFilter, nchwcBlockSize } from './nhwc-conv.js';
import { NCHW_TO_NHWC, NHWC_TO_NCHW, OrtKernel, OrtKernelArgs, sigs } from './util.js';

/**
 * Conv2DBackpropInput (dx of a conv; also the forward pass of tf.conv2dTranspose), NHWC.
 * dy [B,OH,OW,Cout], filter [kh,kw,Cin,Cout] -> dx [B,H,W,Cin]. Formulations (ENGINE.md §11):
 * - kernel == stride, no padding (the U-Net 2x2/s2 up-conv): one MatMul [B*OH*OW, Cout] x
 *   [Cout, kh*kw*Cin] and a depth-to-space transpose; no NCHW round trip.
 * - stride 1: a plain `Conv` of dy with the filter flipped and transposed, padding kh-1-pad;
 *   ORT's ConvTranspose is 2-8x slower than Conv at small channel counts.
 * - anything else: ORT `ConvTranspose` with output_padding to hit the requested shape.
 */

interface BpiAttrs {
  inputShape: [number, number, number, number];
  strides: number | [number, number];
  pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
  dataFormat: 'NHWC' | 'NCHW';
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

type Plan = 'gemm' | 'flippedConv' | 'convTranspose';

function planOf(info: tf.backend_util.Conv2DInfo, inputShape: number[]): Plan | null {
  const p = info.padInfo;
  const kh = info.filterHeight;
  const kw = info.filterWidth;
  const sh = info.strideHeight;
  const sw = info.strideWidth;
  const noPad = p.top + p.bottom + p.left + p.right === 0;
  if (kh === sh && kw === sw && noPad && inputShape[1] === info.outHeight * sh && inputShape[2] === info.outWidth * sw) {
    return 'gemm';
  }
  if (sh === 1 && sw === 1) {
    const ok = p.top <= kh - 1 && p.bottom <= kh - 1 && p.left <= kw - 1 && p.right <= kw - 1;
    return ok ? 'flippedConv' : null;
  }
  const opH = inputShape[1] - (sh * (info.outHeight - 1) + kh - p.top - p.bottom);
  const opW = inputShape[2] - (sw * (info.outWidth - 1) + kw - p.left - p.right);
  return opH >= 0 && opH < sh && opW >= 0 && opW < sw ? 'convTranspose' : null;
}

function run(args: OrtKernelArgs): tf.TensorInfo | null {
  const { dy, filter } = args.inputs;
  const a = args.attrs as unknown as BpiAttrs;
  if (a.dataFormat === 'NCHW' || dy.dtype !== 'float32' || filter.dtype !== 'float32') return null;
  const info = convInfoOf(a.inputShape, filter.shape, a);
  if (info.outHeight !== dy.shape[1] || info.outWidth !== dy.shape[2]) return null;
  const plan = planOf(info, a.inputShape);
  if (!plan) return null;
  const p = info.padInfo;
  // The flipped conv's filter, already in the NCHWc layout where its own kernel can do that (nhwc-conv.ts).
  const blocked = plan === 'flippedConv' ? blockedFilter(args.backend, filter, true) : null;
  const w = blocked ?? filter;
  const key = `BPI:${plan}:b${nchwcBlockSize()}:${sigs([dy, w])}${a.inputShape.join('x')}:${info.strideHeight},${info.strideWidth},${p.top},${p.bottom},${p.left},${p.right}`;
  const build = (g: GraphBuilder) => {
    const dyName = g.input('float32', dy.shape);
    const wName = g.input('float32', w.shape);
    const out = BUILDERS[plan](g, dyName, wName, info, a.inputShape, blocked !== null);
    g.output(out, 'float32');
  };
  const [dx] = args.backend.runGraph('Conv2DBackpropInput', key, build, [dy, w]);
  disposeBlockedFilter(args.backend, blocked);
  return dx;
}

/** `blocked`: w is the flipped conv's filter in the NCHWc layout already (flippedConv only). */
type Builder = (g: GraphBuilder, dy: string, w: string, info: tf.backend_util.Conv2DInfo, inputShape: number[], blocked: boolean) => string;

const BUILDERS: Record<Plan, Builder> = {
  gemm(g, dy, w, info, inputShape) {
    const [b, oh, ow] = [info.batchSize, info.outHeight, info.outWidth];
    const [kh, kw, cin, cout] = [info.filterHeight, info.filterWidth, info.inChannels, info.outChannels];
    const dy2 = g.op('Reshape', [dy, g.int64([-1, cout])]);
    // [kh,kw,Cin,Cout] -> [Cout, kh*kw*Cin]
    const w2 = g.op('Reshape', [g.op('Transpose', [w], { perm: { ints: [3, 0, 1, 2] } }), g.int64([cout, kh * kw * cin])]);
    const y = g.op('MatMul', [dy2, w2]); // [B*OH*OW, kh*kw*Cin]
    // One filter row (a 1x1 conv's dx): [B,OH,OW,1,kw,Cin] already is [B,OH,1,OW,kw,Cin] in memory.
    if (kh === 1) return g.op('Reshape', [y, g.int64(inputShape)]);
    const y6 = g.op('Reshape', [y, g.int64([b, oh, ow, kh, kw, cin])]);
    const t = g.op('Transpose', [y6], { perm: { ints: [0, 1, 3, 2, 4, 5] } }); // [B,OH,kh,OW,kw,Cin]
    return g.op('Reshape', [t, g.int64(inputShape)]);
  },
  flippedConv(g, dy, w, info, _inputShape, blocked) {
    const p = info.padInfo;
    const [kh, kw] = [info.filterHeight, info.filterWidth];
    // The dX conv's HWIO filter is [kh,kw,Cout,Cin], spatially flipped (its input is dy, its output dx).
    const wt = blocked ? w : flippedFilter(g, w);
    const pads: [number, number, number, number] = [kh - 1 - p.top, kw - 1 - p.left, kh - 1 - p.bottom, kw - 1 - p.right];
    const geo = { kh, kw, strides: [1, 1] as [number, number], dilations: [1, 1] as [number, number], pads };
    return buildNhwcConv(g, dy, wt, [kh, kw, info.outChannels, info.inChannels], undefined, geo, undefined, 0.2, blocked);
  },
  convTranspose(g, dy, w, info, inputShape) {
    const p = info.padInfo;
    const [kh, kw, sh, sw] = [info.filterHeight, info.filterWidth, info.strideHeight, info.strideWidth];
    const opH = inputShape[1] - (sh * (info.outHeight - 1) + kh - p.top - p.bottom);
    const opW = inputShape[2] - (sw * (info.outWidth - 1) + kw - p.left - p.right);
    const wt = g.op('Transpose', [w], { perm: { ints: [3, 2, 0, 1] } }); // [Cout, Cin, kh, kw]
    const dyt = g.op('Transpose', [dy], { perm: { ints: NHWC_TO_NCHW } });
    const dxt = g.op('ConvTranspose', [dyt, wt], {
      kernel_shape: { ints: [kh, kw] },
      strides: { ints: [sh, sw] },
      pads: { ints: [p.top, p.left, p.bottom, p.right] },
      output_padding: { ints: [opH, opW] },
    });
    return g.op('Transpose', [dxt], { perm: { ints: NCHW_TO_NHWC } });
  },
};

export const conv2dBackpropInputKernels: OrtKernel[] = [{ kernelName: 'Conv2DBackpropInput', run }];
