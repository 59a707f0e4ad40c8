import * as tf from '@tensorflow/tfjs';
import type { GraphBuilder } from '../onnx-graph.js';
import { blockedFilter, buildNhwcConv, ConvGeometry, disposeBlockedFilter, nchwcBlockSize } from './nhwc-conv.js';
import { Activation, applyActivation, OrtKernel, OrtKernelArgs, sigs } from './util.js';

/**
 * Conv2D and FusedConv2D (bias, activation) for NHWC tensors.
 * - 1x1, stride 1, no padding: a MatMul on [B*H*W, Cin] x [Cin, Cout], no layout change at all.
 * - otherwise: an NHWC conv graph (nhwc-conv.ts: ORT's NCHWc kernel with the layout change folded
 *   into its reorders; bias and relu fused).
 * NCHW data format and prelu go to the cpu kernel.
 */

interface ConvAttrs {
  strides: number | [number, number];
  pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
  dataFormat: 'NHWC' | 'NCHW';
  dilations: number | [number, number];
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  activation?: Activation;
  leakyreluAlpha?: number;
}

export function convInfoOf(
  xShape: number[],
  filterShape: number[],
  a: Pick<ConvAttrs, 'strides' | 'pad' | 'dimRoundingMode'>,
  dilations: number | [number, number] = 1,
): tf.backend_util.Conv2DInfo {
  return tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    a.strides,
    dilations,
    a.pad,
    a.dimRoundingMode,
    false,
    'channelsLast',
  );
}

function runConv(args: OrtKernelArgs, fused: boolean): tf.TensorInfo | null {
  const { x, filter, bias, preluActivationWeights } = args.inputs;
  const a = args.attrs as unknown as ConvAttrs;
  if (a.dataFormat === 'NCHW' || x.dtype !== 'float32' || filter.dtype !== 'float32') return null;
  if (fused && (a.activation === 'prelu' || preluActivationWeights)) return null;
  if (bias && bias.dtype !== 'float32') return null;
  const info = convInfoOf(x.shape, filter.shape, a, a.dilations);
  if (info.outHeight <= 0 || info.outWidth <= 0 || info.inChannels !== filter.shape[2]) return null;
  const act = fused ? a.activation : undefined;
  const alpha = a.leakyreluAlpha ?? 0.2;
  const blocked = pointwise(info) ? null : blockedFilter(args.backend, filter, false);
  const w = blocked ?? filter;
  const inputs = bias ? [x, w, bias] : [x, w];
  const p = info.padInfo;
  const key = `Conv2D:b${nchwcBlockSize()}:${sigs(inputs)}${info.strideHeight},${info.strideWidth},${info.dilationHeight},${info.dilationWidth},${p.top},${p.bottom},${p.left},${p.right}:${act ?? ''}${alpha}`;
  const build = (g: GraphBuilder) => buildConv(g, x.shape, filter.shape, bias?.shape, info, act, alpha, blocked?.shape);
  const [y] = args.backend.runGraph(fused ? 'FusedConv2D' : 'Conv2D', key, build, inputs);
  disposeBlockedFilter(args.backend, blocked);
  return y;
}

function buildConv(
  g: GraphBuilder,
  xShape: number[],
  wShape: number[],
  biasShape: number[] | undefined,
  info: tf.backend_util.Conv2DInfo,
  act: Activation,
  alpha: number,
  blockedShape?: number[],
): void {
  const x = g.input('float32', xShape);
  const w = g.input('float32', blockedShape ?? wShape);
  const b = biasShape ? g.input('float32', biasShape) : undefined;
  const [kh, kw, cin, cout] = wShape;
  const p = info.padInfo;
  let y: string;
  if (pointwise(info)) {
    const x2 = g.op('Reshape', [x, g.int64([-1, cin])]);
    y = g.op('MatMul', [x2, g.op('Reshape', [w, g.int64([cin, cout])])]);
    if (b) y = g.op('Add', [y, b]);
    y = applyActivation(g, y, act, alpha);
    y = g.op('Reshape', [y, g.int64([info.batchSize, info.outHeight, info.outWidth, cout])]);
  } else {
    const channelBias = b && biasShape!.length === 1 && biasShape![0] === cout;
    const geo: ConvGeometry = {
      kh,
      kw,
      strides: [info.strideHeight, info.strideWidth],
      dilations: [info.dilationHeight, info.dilationWidth],
      pads: [p.top, p.left, p.bottom, p.right],
    };
    const blocked = blockedShape !== undefined;
    if (channelBias) {
      y = buildNhwcConv(g, x, w, wShape, b, geo, act, alpha, blocked);
    } else {
      // A scalar or full-shape bias broadcasts in NHWC, after the convolution.
      y = buildNhwcConv(g, x, w, wShape, undefined, geo, undefined, 0.2, blocked);
      if (b) y = g.op('Add', [y, b]);
      y = applyActivation(g, y, act, alpha);
    }
  }
  g.output(y, 'float32');
}

/** 1x1, stride 1, no padding: a MatMul, no conv. */
function pointwise(info: tf.backend_util.Conv2DInfo): boolean {
  const p = info.padInfo;
  return info.filterHeight === 1 && info.filterWidth === 1 && info.strideHeight === 1 && info.strideWidth === 1 && p.top + p.bottom + p.left + p.right === 0;
}

export const conv2dKernels: OrtKernel[] = [
  { kernelName: 'Conv2D', run: (args) => runConv(args, false) },
  { kernelName: 'FusedConv2D', run: (args) => runConv(args, true) },
];
