import type * as tf from '@tensorflow/tfjs';
import type { GraphBuilder } from '../onnx-graph.js';
import { Activation, applyActivation, OrtKernel, OrtKernelArgs, sigs, sizeOf, thresholds } from './util.js';

/**
 * BatchMatMul and _FusedMatMul (bias, activation) as ORT `MatMul` with batch broadcasting. A
 * transposed operand is a `Transpose` node in front, which ORT fuses into its FusedMatMul (MLAS
 * runs every transpose/batch combination at full speed, unlike the wasm backend).
 */

function swapLast(rank: number): number[] {
  const perm = Array.from({ length: rank }, (_, i) => i);
  [perm[rank - 2], perm[rank - 1]] = [perm[rank - 1], perm[rank - 2]];
  return perm;
}

function run(args: OrtKernelArgs, fused: boolean): tf.TensorInfo | null {
  const { a, b, bias, preluActivationWeights } = args.inputs;
  const transposeA = !!args.attrs.transposeA;
  const transposeB = !!args.attrs.transposeB;
  const act = fused ? (args.attrs.activation as Activation) : undefined;
  const alpha = (args.attrs.leakyreluAlpha as number | undefined) ?? 0.2;
  if (a.dtype !== 'float32' || b.dtype !== 'float32' || (bias && bias.dtype !== 'float32')) return null;
  if (a.shape.length < 2 || b.shape.length < 2) return null;
  if (act === 'prelu' && (!preluActivationWeights || preluActivationWeights.dtype !== 'float32')) return null;
  const m = a.shape[a.shape.length - (transposeA ? 1 : 2)];
  const k = a.shape[a.shape.length - (transposeA ? 2 : 1)];
  const n = b.shape[b.shape.length - (transposeB ? 2 : 1)];
  const batch = Math.max(sizeOf(a.shape.slice(0, -2)), sizeOf(b.shape.slice(0, -2)));
  if (batch * m * n * k < thresholds.matmulMacs) return null;
  const inputs = [a, b, ...(bias ? [bias] : []), ...(act === 'prelu' ? [preluActivationWeights] : [])];
  const key = `MatMul:${sigs(inputs)}${transposeA},${transposeB}:${act ?? ''}${alpha}`;
  const build = (g: GraphBuilder) => {
    let ia = g.input('float32', a.shape);
    let ib = g.input('float32', b.shape);
    const ibias = bias ? g.input('float32', bias.shape) : undefined;
    const iprelu = act === 'prelu' ? g.input('float32', preluActivationWeights.shape) : undefined;
    if (transposeA) ia = g.op('Transpose', [ia], { perm: { ints: swapLast(a.shape.length) } });
    if (transposeB) ib = g.op('Transpose', [ib], { perm: { ints: swapLast(b.shape.length) } });
    let y = g.op('MatMul', [ia, ib]);
    if (ibias) y = g.op('Add', [y, ibias]);
    g.output(applyActivation(g, y, act, alpha, iprelu), 'float32');
  };
  return args.backend.runGraph(fused ? '_FusedMatMul' : 'BatchMatMul', key, build, inputs)[0];
}

export const matmulKernels: OrtKernel[] = [
  { kernelName: 'BatchMatMul', run: (args) => run(args, false) },
  { kernelName: '_FusedMatMul', run: (args) => run(args, true) },
];
