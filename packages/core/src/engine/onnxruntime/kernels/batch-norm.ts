import type * as tf from '@tensorflow/tfjs';
import type { GraphBuilder } from '../onnx-graph.js';
import { thresholds, OrtKernel, OrtKernelArgs, sigs, sizeOf } from './util.js';

/**
 * FusedBatchNorm (tf.batchNorm): y = (x - mean) * rsqrt(variance + eps) * scale + offset.
 * The per-channel factors a = scale * rsqrt(var + eps) and b = offset - mean * a are computed on the
 * small parameter tensors, so the activation is touched by one Mul and one Add (NHWC broadcast,
 * no layout change). Parameters of any broadcastable shape work.
 */
function run(args: OrtKernelArgs): tf.TensorInfo | null {
  const { x, mean, variance, offset, scale } = args.inputs;
  const params = [mean, variance, offset, scale];
  if ([x, ...params].some((t) => t && t.dtype !== 'float32') || sizeOf(x.shape) < thresholds.elements) return null;
  const eps = (args.attrs.varianceEpsilon as number | undefined) ?? 0.001;
  const inputs = [x, mean, variance, ...(offset ? [offset] : []), ...(scale ? [scale] : [])];
  const key = `FusedBatchNorm:${sigs([x, ...params])}:${eps}`;
  const build = (g: GraphBuilder) => {
    const xi = g.input('float32', x.shape);
    const m = g.input('float32', mean.shape);
    const v = g.input('float32', variance.shape);
    const o = offset ? g.input('float32', offset.shape) : undefined;
    const s = scale ? g.input('float32', scale.shape) : undefined;
    let a = g.op('Reciprocal', [g.op('Sqrt', [g.op('Add', [v, g.float(eps)])])]);
    if (s) a = g.op('Mul', [a, s]);
    let b = g.op('Neg', [g.op('Mul', [m, a])]);
    if (o) b = g.op('Add', [b, o]);
    g.output(g.op('Add', [g.op('Mul', [xi, a]), b]), 'float32');
  };
  return args.backend.runGraph('FusedBatchNorm', key, build, inputs)[0];
}

export const batchNormKernels: OrtKernel[] = [{ kernelName: 'FusedBatchNorm', run }];
