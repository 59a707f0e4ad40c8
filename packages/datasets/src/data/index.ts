export { resolveDataRoot, resolveCacheDir, findRepoRoot } from './paths.js';
export { loadDataset, DEFAULT_LIMIT_SEED, type LoadDatasetOptions } from './load.js';
export {
  PreparedSplit,
  readPreparedDataset,
  SPLIT_NAMES,
  type PreparedDataset,
  type SplitArrays,
  type SplitName,
} from './prepared.js';
export type { DatasetName } from './sources.js';
export type { QataTestText } from './staged.js';
export { decodeMaskBytes, type ChannelOrder } from './decode.js';
export { resizeLinearU8, thresholdMask, type ImageU8 } from './resize.js';
export {
  augmentLViT,
  lvitAugment,
  lvitAugmentationMap,
  applyLViTAugmentation,
  drawLViTAugmentation,
  rot90FlipIndexMap,
  rotateNearestIndexMap,
  type LViTAugmentation,
} from './augment.js';
export {
  drawLabeledSubset,
  makeLabelManifest,
  writeLabelManifest,
  readLabelManifest,
  labeledIdsSha256,
  subsetSplit,
  LABEL_MANIFEST_SCHEMA,
  type LabelManifest,
} from './label-fraction.js';
export { makeSyntheticDataset, type SyntheticOptions } from './synthetic.js';
export { writePng } from './png.js';
export { loadContrastiveLabels, findContrastiveLabelsDir, CONTRASTIVE_LABELS_CSV } from './contrastive.js';
export { findDatasetSource, DATA_LAYOUTS, type DataLayout, type DatasetSource } from './layout.js';
export { readModelInput, readModelMask, maskToSize, type ModelInput } from './model-input.js';
export { readCsvTable, type CsvTable } from './csv.js';
