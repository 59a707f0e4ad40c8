import type * as tf from '@tensorflow/tfjs';
import type { GraphBuilder } from '../onnx-graph.js';
import { OrtKernel, OrtKernelArgs, sigs, sizeOf, thresholds } from './util.js';

/**
 * Nearest-neighbour upsampling by a power-of-two factor (LViT's upsampleNearest), NHWC, and its
 * gradient; the cpu gradient kernel searches a window per output pixel (5 ms per call at LViT-128
 * sizes). With alignCorners and halfPixelCenters off, tfjs maps output row r to input row
 * floor(r / f), which for f = 2^k is exact in floating point, so:
 * - forward: [B,H,W,C] -> Reshape [B,H,1,W,1,C] -> Expand [B,H,f,W,f,C] -> Reshape [B,fH,fW,C];
 * - gradient: dy [B,fH,fW,C] -> Reshape [B,H,f,W,f,C] -> ReduceSum over the two f axes.
 * Other factors and modes go to the cpu kernels.
 */

function powerOfTwoFactor(small: number, big: number): number | null {
  const f = big / small;
  return Number.isInteger(f) && f >= 1 && (f & (f - 1)) === 0 ? f : null;
}

function runResize(args: OrtKernelArgs): tf.TensorInfo | null {
  const x = args.inputs.images;
  const [newH, newW] = args.attrs.size as [number, number];
  if (x.dtype !== 'float32' || x.shape.length !== 4 || args.attrs.alignCorners || args.attrs.halfPixelCenters) return null;
  const [b, h, w, c] = x.shape;
  const fh = powerOfTwoFactor(h, newH);
  const fw = powerOfTwoFactor(w, newW);
  if (!fh || !fw || b * newH * newW * c < thresholds.elements) return null;
  const key = `ResizeNearest:${sigs([x])}${fh},${fw}`;
  const build = (g: GraphBuilder) => {
    const x6 = g.op('Reshape', [g.input('float32', x.shape), g.int64([b, h, 1, w, 1, c])]);
    const e = g.op('Expand', [x6, g.int64([b, h, fh, w, fw, c])]);
    g.output(g.op('Reshape', [e, g.int64([b, newH, newW, c])]), 'float32', [b, newH, newW, c]);
  };
  return args.backend.runGraph('ResizeNearestNeighbor', key, build, [x])[0];
}

function runResizeGrad(args: OrtKernelArgs): tf.TensorInfo | null {
  const { images, dy } = args.inputs;
  if (dy.dtype !== 'float32' || images.shape.length !== 4 || args.attrs.alignCorners) return null;
  const [b, h, w, c] = images.shape;
  const [, dh, dw] = dy.shape;
  const fh = powerOfTwoFactor(h, dh);
  const fw = powerOfTwoFactor(w, dw);
  if (!fh || !fw || sizeOf(dy.shape) < thresholds.elements) return null;
  const key = `ResizeNearestGrad:${sigs([dy])}${fh},${fw}`;
  const build = (g: GraphBuilder) => {
    const d6 = g.op('Reshape', [g.input('float32', dy.shape), g.int64([b, h, fh, w, fw, c])]);
    g.output(g.op('ReduceSum', [d6, g.int64([2, 4])], { keepdims: { i: 0 } }), 'float32', [b, h, w, c]);
  };
  return args.backend.runGraph('ResizeNearestNeighborGrad', key, build, [dy])[0];
}

/**
 * Bilinear resize (TransUNet's UpsamplingBilinear2d, align_corners) as ONNX Resize on the NHWC
 * tensor (ORT resizes H and W in place when the N and C scales are 1). tfjs's coordinate rules map
 * to Resize's: alignCorners -> 'align_corners', halfPixelCenters -> 'half_pixel', else 'asymmetric'.
 */
function runResizeBilinear(args: OrtKernelArgs): tf.TensorInfo | null {
  const x = args.inputs.images;
  const [newH, newW] = args.attrs.size as [number, number];
  if (x.dtype !== 'float32' || x.shape.length !== 4) return null;
  const [b, , , c] = x.shape;
  if (b * newH * newW * c < thresholds.elements) return null;
  const mode = args.attrs.alignCorners ? 'align_corners' : args.attrs.halfPixelCenters ? 'half_pixel' : 'asymmetric';
  const key = `ResizeBilinear:${sigs([x])}${newH},${newW}:${mode}`;
  const build = (g: GraphBuilder) => {
    const attrs = { mode: { s: 'linear' }, coordinate_transformation_mode: { s: mode } };
    const y = g.op('Resize', [g.input('float32', x.shape), '', '', g.int64([b, newH, newW, c])], attrs);
    g.output(y, 'float32', [b, newH, newW, c]);
  };
  return args.backend.runGraph('ResizeBilinear', key, build, [x])[0];
}

/**
 * The gradient of bilinear resize (TransUNet's decoder upsampling), as tfjs's cpu kernel defines it:
 * output row r samples input row r·scale (scale from alignCorners only: that kernel ignores
 * halfPixelCenters), split between floor and min(ceil, H-1) by the fraction. The forward is linear and
 * separable, y = A_h x A_wᵀ per image and channel, so dx = A_hᵀ dy A_w: two MatMuls with constant
 * interpolation matrices (dense, though only 2 entries a row are non-zero):
 *   dy [B,OH,OW,C] -> [B·OH,OW,C]; A_wᵀ [W,OW] @ it -> [B·OH,W,C] -> [B,OH,W·C]; A_hᵀ [H,OH] @ it -> [B,H,W·C]
 * Without it the cpu kernel ran between ORT graphs and cut a TransUNet step into five programs,
 * every activation the backward read after a cut becoming a copied output (331 MB a quick step).
 * Returns images.shape, where the cpu kernel returns [B,W,H,C] (same data, wrong shape off the square).
 */
function runResizeBilinearGrad(args: OrtKernelArgs): tf.TensorInfo | null {
  const { images, dy } = args.inputs;
  if (dy.dtype !== 'float32' || images.shape.length !== 4 || sizeOf(dy.shape) < thresholds.elements) return null;
  const [b, h, w, c] = images.shape;
  const [, oh, ow] = dy.shape;
  const alignCorners = args.attrs.alignCorners === true;
  const key = `ResizeBilinearGrad:${sigs([images, dy])}${alignCorners}`;
  const build = (g: GraphBuilder) => {
    const d = g.op('Reshape', [g.input('float32', dy.shape), g.int64([b * oh, ow, c])]);
    const alongW = g.op('MatMul', [g.float(interpolationTransposed(w, ow, alignCorners), [w, ow]), d]);
    const rows = g.op('Reshape', [alongW, g.int64([b, oh, w * c])]);
    const dx = g.op('MatMul', [g.float(interpolationTransposed(h, oh, alignCorners), [h, oh]), rows]);
    g.output(g.op('Reshape', [dx, g.int64([b, h, w, c])]), 'float32', [b, h, w, c]);
  };
  return args.backend.runGraph('ResizeBilinearGrad', key, build, [dy])[0];
}

/** Aᵀ [size, outSize] of the 1-D bilinear resize size -> outSize: column o holds output o's two weights (tfjs's cpu grad kernel's positions). */
function interpolationTransposed(size: number, outSize: number, alignCorners: boolean): Float32Array {
  const scale = alignCorners && outSize > 1 ? (size - 1) / (outSize - 1) : size / outSize;
  const at = new Float32Array(size * outSize);
  for (let o = 0; o < outSize; o++) {
    const pos = o * scale;
    const low = Math.floor(pos);
    const high = Math.min(Math.ceil(pos), size - 1);
    const frac = pos - low;
    at[low * outSize + o] += 1 - frac;
    at[high * outSize + o] += frac;
  }
  return at;
}

export const resizeKernels: OrtKernel[] = [
  { kernelName: 'ResizeBilinear', run: runResizeBilinear },
  { kernelName: 'ResizeBilinearGrad', run: runResizeBilinearGrad },
  { kernelName: 'ResizeNearestNeighbor', run: runResize },
  { kernelName: 'ResizeNearestNeighborGrad', run: runResizeGrad },
];
