/**
 * `scipy.ndimage.zoom(a, (out/in, out/in, 1), order=1)` on an [in, in, C] grid, as the official TransUNet
 * `load_from` resizes the ImageNet-21k position embedding when the token grid differs. scipy (grid_mode
 * False) maps output index o to input coordinate o·(in-1)/(out-1) (the corners align; a size-1 output
 * reads index 0) and interpolates linearly, in float64, over the 2x2 neighbourhood; a float32 input comes
 * back as float32. The channel axis has zoom 1, so channels are not mixed.
 * grid [in·in·C] row-major (y, x, c) -> [out·out·C].
 */
export function zoomGridLinear(grid: Float32Array, sizeIn: number, sizeOut: number, channels: number): Float32Array {
  if (grid.length !== sizeIn * sizeIn * channels) {
    throw new Error(`ndimage-zoom.ts: grid has ${grid.length} values, expected ${sizeIn}x${sizeIn}x${channels}`);
  }
  const taps = linearTaps(sizeIn, sizeOut);
  const out = new Float32Array(sizeOut * sizeOut * channels);
  for (let oy = 0; oy < sizeOut; oy++) {
    const ty = taps[oy];
    for (let ox = 0; ox < sizeOut; ox++) {
      const tx = taps[ox];
      for (let c = 0; c < channels; c++) {
        let v = 0;
        for (let i = 0; i < 2; i++)
          for (let j = 0; j < 2; j++) v += grid[(ty.index[i] * sizeIn + tx.index[j]) * channels + c] * ty.weight[i] * tx.weight[j];
        out[(oy * sizeOut + ox) * channels + c] = v;
      }
    }
  }
  return out;
}

/** Per output index: the two input indices and their linear weights (the upper one clamped, at weight ~0, on the last row). */
function linearTaps(sizeIn: number, sizeOut: number): { index: [number, number]; weight: [number, number] }[] {
  const scale = sizeOut > 1 ? (sizeIn - 1) / (sizeOut - 1) : 1;
  return Array.from({ length: sizeOut }, (_, o) => {
    const x = sizeOut > 1 ? o * scale : 0;
    const lo = Math.min(Math.floor(x), sizeIn - 1);
    const t = x - lo;
    return { index: [lo, Math.min(lo + 1, sizeIn - 1)], weight: [1 - t, t] };
  });
}
