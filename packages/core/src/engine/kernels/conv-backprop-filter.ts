import * as tf from '@tensorflow/tfjs';
import { explicitPad, withKernelScope } from './kernel-scope.js';

/**
 * Conv2DBackpropFilter written as one forward convolution (ENGINE.md §1.3, the `conv` formulation,
 * the fastest of four tried on wasm):
 *
 *   dW[kh,kw,ci,co] = sum_{n,oh,ow} x[n, oh*sh + kh - top, ow*sw + kw - left, ci] * dy[n,oh,ow,co]
 *
 * is a convolution whose batch is Cin, whose input channels are N and whose "filter" is dy:
 *   x  [N,H,W,Cin]   -> transpose -> [Cin,H,W,N]
 *   dy [N,OH,OW,Cout] -> transpose -> [OH,OW,N,Cout]   (filter, dilation = forward stride)
 *   conv, stride 1, padding (top, bottom', left, right') -> [Cin,KH,KW,Cout] -> transpose -> [KH,KW,Cin,Cout]
 * bottom' is chosen so the output is exactly KH rows; when it comes out negative (rows the forward
 * conv never read, e.g. 'valid' with a remainder) those rows of x are sliced off instead.
 */
export function conv2DBackpropFilterViaConv(backendName: string): tf.KernelFunc {
  return ({ inputs, backend, attrs }) => {
    const { x, dy } = inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
    const { strides, pad, dataFormat, dimRoundingMode, filterShape } = attrs as unknown as tf.Conv2DBackpropFilterAttrs;
    if (dataFormat !== 'NHWC') {
      throw new Error(`engine/kernels/conv-backprop-filter.ts: only NHWC is supported on '${backendName}', got ${dataFormat}`);
    }
    const [n, h, w, cin] = x.shape;
    const info = tf.backend_util.computeConv2DInfo(
      x.shape as [number, number, number, number],
      filterShape,
      strides,
      1,
      pad,
      dimRoundingMode,
      false,
      'channelsLast',
    );
    const { filterHeight: kh, filterWidth: kw, strideHeight: sh, strideWidth: sw, outHeight: oh, outWidth: ow } = info;
    if (dy.shape[0] !== n || dy.shape[1] !== oh || dy.shape[2] !== ow || dy.shape[3] !== info.outChannels) {
      throw new Error(`engine/kernels/conv-backprop-filter.ts: dy shape [${dy.shape}] does not match the forward output [${n},${oh},${ow},${info.outChannels}]`);
    }
    const { top, left } = info.padInfo;
    // Padding after the input that makes the dilated-dy convolution produce exactly kh x kw outputs.
    const bottom = kh + (oh - 1) * sh - h - top;
    const right = kw + (ow - 1) * sw - w - left;
    return withKernelScope(backend, backendName, (s) => {
      const xUsed = bottom < 0 || right < 0 ? s.slice(x, [0, 0, 0, 0], [n, h + Math.min(bottom, 0), w + Math.min(right, 0), cin]) : x;
      const xT = s.transpose(xUsed, [3, 1, 2, 0]); // [Cin,H,W,N]
      const dyT = s.transpose(dy, [1, 2, 0, 3]); // [OH,OW,N,Cout]
      const dwT = s.run(
        'Conv2D',
        { x: xT, filter: dyT },
        {
          strides: [1, 1],
          pad: explicitPad(top, Math.max(bottom, 0), left, Math.max(right, 0)),
          dataFormat: 'NHWC',
          dilations: [sh, sw],
          dimRoundingMode: undefined as unknown as string,
        },
      ); // [Cin,KH,KW,Cout]
      return s.transpose(dwT, [1, 2, 0, 3]); // [KH,KW,Cin,Cout]
    });
  };
}
