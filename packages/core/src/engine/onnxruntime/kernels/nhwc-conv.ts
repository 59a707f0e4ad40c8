import type * as tf from '@tensorflow/tfjs';
import type { OnnxruntimeBackend } from '../backend.js';
import { nativeConvFilter } from '../native.js';
import { GraphBuilder } from '../onnx-graph.js';
import { OrtSession } from '../ort-binding.js';
import { Activation, applyActivation, NCHW_TO_NHWC, NHWC_TO_NCHW } from './util.js';

/**
 * An NHWC convolution inside an ONNX graph, for the forward conv and the stride-1 dX.
 *
 * ORT's fast CPU convolution is its NCHWc ("channels blocked by 16" on AVX-512) kernel. Its graph
 * optimizer only switches to it when the filter is a constant initializer, which a training kernel's
 * filter never is. So the graph uses the `com.microsoft.nchwc` ops directly: ReorderInput with
 * channels_last=1 (the NHWC -> NCHWc transpose is free inside the reorder), nchwc Conv with the
 * filter reordered in-graph (a tiny Reshape/Transpose), ReorderOutput with channels_last=1.
 * Measured 1.5-2.5x faster than Transpose + Conv + Transpose at the U-Net's shapes.
 * Fewer input channels than the block (an image's first conv) read a plain NCHW input
 * (`nchwcConvNchwInput`); other channel counts that are not multiples of the block size use the
 * plain Conv + transposes.
 */

export interface ConvGeometry {
  kh: number;
  kw: number;
  strides: [number, number];
  dilations: [number, number];
  /** [top, left, bottom, right] */
  pads: [number, number, number, number];
}

const NCHWC = 'com.microsoft.nchwc';
let blockSize: number | null | undefined;
let enabled = true;

/**
 * The NCHWc ops are CPU EP kernels: in a WebGPU EP session ORT would run them on the CPU, with a
 * copy each way. The backend turns the path off for any other EP (backend.ts).
 */
export function setNchwcEnabled(on: boolean): void {
  enabled = on;
}

/**
 * The NCHWc block size of this machine's MLAS (16 with AVX-512, 8 with AVX2), found once by
 * checking which in-graph filter reorder reproduces a plain Conv; null disables the NCHWc path.
 */
export function nchwcBlockSize(): number | null {
  if (!enabled) return null;
  if (blockSize !== undefined) return blockSize;
  blockSize = null;
  for (const b of [16, 8, 4]) {
    if (agreesWithPlainConv(32, 32, (g, x, w, shape, geo) => nchwcConv(g, x, w, shape, undefined, geo, undefined, b))) {
      blockSize = b;
      break;
    }
  }
  return blockSize;
}

let nchwInput: boolean | undefined;

/** Whether this MLAS reads a plain NCHW input into its NCHWc conv (fewer input channels than the block), checked once. */
export function nchwcReadsNchwInput(): boolean {
  const b = nchwcBlockSize();
  if (b === null) return false;
  nchwInput ??= agreesWithPlainConv(3, 2 * b, (g, x, w, shape, geo) => nchwcConvNchwInput(g, x, w, shape, undefined, geo, undefined, b));
  return nchwInput;
}

type ConvBuild = (g: GraphBuilder, x: string, w: string, wShape: number[], geo: ConvGeometry) => string;

/** Runs `build` and the plain Conv on one small seeded 3x3 'same' conv; true if they agree (false if `build` fails). */
function agreesWithPlainConv(ci: number, co: number, build: ConvBuild): boolean {
  const xShape = [2, 5, 5, ci];
  const wShape = [3, 3, ci, co];
  const feeds = {
    i0: { dims: xShape, type: 'float32' as const, location: 'cpu' as const, data: new Float32Array(2 * 5 * 5 * ci).map((_, i) => Math.sin(i * 0.37)) },
    i1: { dims: wShape, type: 'float32' as const, location: 'cpu' as const, data: new Float32Array(9 * ci * co).map((_, i) => Math.cos(i * 0.11)) },
  };
  const geometry: ConvGeometry = { kh: 3, kw: 3, strides: [1, 1], dilations: [1, 1], pads: [1, 1, 1, 1] };
  const run = (f: ConvBuild): Float32Array | null => {
    try {
      const g = new GraphBuilder();
      const xi = g.input('float32', xShape);
      const wi = g.input('float32', wShape);
      g.output(f(g, xi, wi, wShape, geometry), 'float32');
      const s = new OrtSession(g.toBytes(), { executionProvider: 'cpu', intraOpNumThreads: 1 }, 1);
      const out = s.run(feeds)[0].data as Float32Array;
      s.dispose();
      return out;
    } catch {
      return null;
    }
  };
  const ref = run((g, x, w, _shape, geo) => plainConv(g, x, w, undefined, geo, undefined));
  const got = run(build);
  return ref !== null && got !== null && got.every((v, i) => Math.abs(v - ref[i]) <= 1e-4 * (1 + Math.abs(ref[i])));
}

/** Test hook: force the plain path (null) or a block size; undefined re-detects. */
export function setNchwcBlockSize(b: number | null | undefined): void {
  blockSize = b;
  nchwInput = undefined;
}

function convAttrs(geo: ConvGeometry) {
  return {
    kernel_shape: { ints: [geo.kh, geo.kw] },
    strides: { ints: geo.strides },
    dilations: { ints: geo.dilations },
    pads: { ints: geo.pads },
  };
}

function plainConv(g: GraphBuilder, x: string, w: string, bias: string | undefined, geo: ConvGeometry, act: Activation, alpha = 0.2): string {
  const xt = g.op('Transpose', [x], { perm: { ints: NHWC_TO_NCHW } });
  const wt = g.op('Transpose', [w], { perm: { ints: [3, 2, 0, 1] } }); // HWIO -> OIHW
  const yt = applyActivation(g, g.op('Conv', bias ? [xt, wt, bias] : [xt, wt], convAttrs(geo)), act, alpha);
  return g.op('Transpose', [yt], { perm: { ints: NCHW_TO_NHWC } });
}

/** HWIO [kh,kw,Ci,Co] -> [kh,kw,Ci/b,bi,Co/b,bo] -> [Co/b,Ci/b,kh,kw,bi,bo] (MLAS OIHWBiBo), shaped [Co,Ci,kh,kw]. */
function blockFilterInGraph(g: GraphBuilder, w: string, wShape: number[], b: number): string {
  const [kh, kw, ci, co] = wShape;
  const w6 = g.op('Reshape', [w, g.int64([kh, kw, ci / b, b, co / b, b])]);
  return g.op('Reshape', [g.op('Transpose', [w6], { perm: { ints: [4, 2, 0, 1, 3, 5] } }), g.int64([co, ci, kh, kw])]);
}

/** `w` HWIO, or already blocked (`blockedFilter`) where `blocked`. */
function nchwcConv(g: GraphBuilder, x: string, w: string, wShape: number[], bias: string | undefined, geo: ConvGeometry, act: Activation, b: number, alpha = 0.2, blocked = false): string {
  const co = wShape[3];
  const xr = g.op('ReorderInput', [x], { channels_last: { i: 1 } }, NCHWC);
  const wr = blocked ? w : blockFilterInGraph(g, w, wShape, b);
  const fuseRelu = act === 'relu';
  const attrs = { ...convAttrs(geo), group: { i: 1 }, ...(fuseRelu ? { activation: { s: 'Relu' } } : {}) };
  const yr = g.op('Conv', bias ? [xr, wr, bias] : [xr, wr], attrs, NCHWC);
  const y = g.op('ReorderOutput', [yr], { channels: { i: co }, channels_last: { i: 1 } }, NCHWC);
  return fuseRelu ? y : applyActivation(g, y, act, alpha);
}

/**
 * A conv with fewer input channels than the block (an image's first conv, 3 -> 64): MLAS's NCHWc
 * conv reads such an input in plain NCHW with the filter blocked over output channels only
 * (OIHWBo), as ORT's own NCHWc transformer does for constant filters. Only the small input is
 * transposed; the output leaves through ReorderOutput(channels_last). The plain path's output
 * Transpose, and the transposes ORT's optimiser moved through the batch norm after it, cost more than
 * the conv: full-width U-Net step (3 -> 64 at 224²), interleaved in one process, 2089 -> 2041 ms median.
 */
function nchwcConvNchwInput(g: GraphBuilder, x: string, w: string, wShape: number[], bias: string | undefined, geo: ConvGeometry, act: Activation, b: number, alpha = 0.2): string {
  const [kh, kw, ci, co] = wShape;
  const xt = g.op('Transpose', [x], { perm: { ints: NHWC_TO_NCHW } });
  // HWIO [kh,kw,Ci,Co] -> [kh,kw,Ci,Co/b,bo] -> [Co/b,Ci,kh,kw,bo] (MLAS OIHWBo)
  const w5 = g.op('Reshape', [w, g.int64([kh, kw, ci, co / b, b])]);
  const wr = g.op('Reshape', [g.op('Transpose', [w5], { perm: { ints: [3, 2, 0, 1, 4] } }), g.int64([co, ci, kh, kw])]);
  const fuseRelu = act === 'relu';
  const attrs = { ...convAttrs(geo), group: { i: 1 }, ...(fuseRelu ? { activation: { s: 'Relu' } } : {}) };
  const yr = g.op('Conv', bias ? [xt, wr, bias] : [xt, wr], attrs, NCHWC);
  const y = g.op('ReorderOutput', [yr], { channels: { i: co }, channels_last: { i: 1 } }, NCHWC);
  return fuseRelu ? y : applyActivation(g, y, act, alpha);
}

/**
 * y = act(conv(x, w) + bias), all NHWC; w is HWIO [kh,kw,Cin,Cout] (wShape), or where `blocked`
 * the same filter already in the NCHWc layout (`blockedFilter`); bias [Cout] or undefined.
 */
export function buildNhwcConv(
  g: GraphBuilder,
  x: string,
  w: string,
  wShape: number[],
  bias: string | undefined,
  geo: ConvGeometry,
  act: Activation,
  alpha = 0.2,
  blocked = false,
): string {
  const b = nchwcBlockSize();
  const [, , ci, co] = wShape;
  if (b && ci % b === 0 && co % b === 0) return nchwcConv(g, x, w, wShape, bias, geo, act, b, alpha, blocked);
  if (blocked) throw new Error('onnxruntime/kernels/nhwc-conv.ts: a blocked filter for a conv that does not take the NCHWc path');
  if (b && ci < b && co % b === 0 && nchwcReadsNchwInput()) return nchwcConvNchwInput(g, x, w, wShape, bias, geo, act, b, alpha);
  return plainConv(g, x, w, bias, geo, act, alpha);
}

/**
 * The filter of a conv that takes the NCHWc path, reordered by its own kernel into MLAS's blocked
 * layout: where the native addon is built that is one native copy per step before the graph (the
 * filter is a parameter, so its layout is known before the graph runs), instead of a 6-D Transpose
 * in it. `flipped`: the filter of the stride-1 dX conv (spatially flipped, Cin and Cout swapped),
 * whose in-graph form is a Slice and two Transposes. Null where the path or the addon is not there:
 * the conv then reorders its HWIO filter in its own graph.
 * w HWIO [kh,kw,Ci,Co] -> [Co',Ci',kh,kw] of the conv that reads it (Co' = Ci when flipped).
 */
export function blockedFilter(backend: OnnxruntimeBackend, w: tf.TensorInfo, flipped: boolean): tf.TensorInfo | null {
  const native = nativeConvFilter();
  const b = nchwcBlockSize();
  const [kh, kw, ci, co] = w.shape;
  const [convIn, convOut] = flipped ? [co, ci] : [ci, co];
  if (!native || !b || w.dtype !== 'float32' || convIn % b !== 0 || convOut % b !== 0) return null;
  const shape = [convOut, convIn, kh, kw];
  const build = (g: GraphBuilder) => {
    const hwio = g.input('float32', w.shape);
    g.output(blockFilterInGraph(g, flipped ? flippedFilter(g, hwio) : hwio, [kh, kw, convIn, convOut], b), 'float32', shape);
  };
  const dims = Int32Array.of(kh, kw, ci, co, b, flipped ? 1 : 0);
  const threads = backend.options.intraOpNumThreads;
  return backend.runGraph('_OrtNchwcFilter', `NchwcFilter:${flipped ? 'flipped' : 'plain'}:b${b}:${w.shape.join('x')}`, build, [w], ([src], [dst]) =>
    native.nchwcFilter(src as Float32Array, dst as Float32Array, dims, threads),
  )[0];
}

/**
 * The conv that read `blocked` has been run or recorded: no tensor holds the layout, so its data goes
 * now. (Left to tfjs's data WeakMap, a recorded layout counted as alive at the flush, and its array
 * went to the garbage collector instead of back to the pool: 55 arrays, ~134 MB, a full-size LViT-T step.)
 */
export function disposeBlockedFilter(backend: OnnxruntimeBackend, blocked: tf.TensorInfo | null): void {
  if (blocked) backend.disposeIntermediateTensorInfo(blocked);
}

/** HWIO [kh,kw,Cin,Cout] -> the dX conv's HWIO [kh,kw,Cout,Cin], spatially flipped. */
export function flippedFilter(g: GraphBuilder, w: string): string {
  const big = -(2 ** 31);
  const flipped = g.op('Slice', [w, g.int64([-1, -1]), g.int64([big, big]), g.int64([0, 1]), g.int64([-1, -1])]);
  return g.op('Transpose', [flipped], { perm: { ints: [0, 1, 3, 2] } });
}
