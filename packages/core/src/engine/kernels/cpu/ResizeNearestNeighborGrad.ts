import * as tf from '@tensorflow/tfjs';

type CpuBackend = { data: { get(id: tf.DataId): { values: Float32Array } }; makeTensorInfo(shape: number[], dtype: tf.DataType, values: Float32Array): tf.TensorInfo };

/**
 * tfjs-backend-cpu 4.22's ResizeNearestNeighborGrad reads dy at the *input's* batch stride, so
 * every image after the first gets the wrong gradient (LViT's decoder and Reconstruct upsample
 * with it). This scatters each dy pixel back to the source pixel the forward kernel read,
 * using exactly the forward's index mapping (alignCorners / halfPixelCenters).
 */
export const cpuResizeNearestNeighborGradConfig: tf.KernelConfig = {
  kernelName: 'ResizeNearestNeighborGrad',
  backendName: 'cpu',
  kernelFunc: ({ inputs, backend, attrs }) => {
    const { images, dy } = inputs as { images: tf.TensorInfo; dy: tf.TensorInfo };
    const { alignCorners, halfPixelCenters } = attrs as { alignCorners: boolean; halfPixelCenters?: boolean };
    const cpu = backend as unknown as CpuBackend;
    const [batch, inH, inW, depth] = images.shape;
    const [, outH, outW] = dy.shape;
    const dyValues = cpu.data.get(dy.dataId).values;
    const dx = new Float32Array(batch * inH * inW * depth);
    const rowSource = sourceIndex(inH, outH, alignCorners, halfPixelCenters ?? false);
    const colSource = sourceIndex(inW, outW, alignCorners, halfPixelCenters ?? false);
    let dyOffset = 0;
    for (let b = 0; b < batch; b++) {
      for (let r = 0; r < outH; r++) {
        const rowBase = (b * inH + rowSource[r]) * inW;
        for (let c = 0; c < outW; c++) {
          const base = (rowBase + colSource[c]) * depth;
          for (let d = 0; d < depth; d++) dx[base + d] += dyValues[dyOffset++];
        }
      }
    }
    return cpu.makeTensorInfo([batch, inH, inW, depth], 'float32', dx);
  },
};

/** For each output index, the input index the cpu forward kernel reads (its exact formula). */
function sourceIndex(inSize: number, outSize: number, alignCorners: boolean, halfPixelCenters: boolean): Int32Array {
  const effIn = alignCorners && outSize > 1 ? inSize - 1 : inSize;
  const effOut = alignCorners && outSize > 1 ? outSize - 1 : outSize;
  const ratio = effIn / effOut;
  const out = new Int32Array(outSize);
  for (let i = 0; i < outSize; i++) {
    const frac = halfPixelCenters ? ratio * (i + 0.5) : ratio * i;
    let src = Math.min(inSize - 1, alignCorners ? Math.round(frac) : Math.floor(frac));
    if (halfPixelCenters) src = Math.max(0, src);
    out[i] = src;
  }
  return out;
}
