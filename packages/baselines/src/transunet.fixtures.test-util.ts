/** A small config that keeps every block (TRANSUNET.md block map) for fast tests. */
export const TINY = {
  imageSize: 32,
  hiddenSize: 32,
  numLayers: 2,
  numHeads: 4,
  mlpDim: 64,
  resnetUnits: [1, 2, 1] as [number, number, number],
  widthFactor: 0.5,
  headChannels: 32,
  decoderChannels: [32, 16, 16, 8] as [number, number, number, number],
};
