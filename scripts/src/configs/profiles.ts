import { baseModels, DataConfig, DatasetName, officialData, officialLearningRate, officialSchedule, ScheduleConfig } from './base.js';
import { ABLATION_SEMI_MODELS, MAIN_SEMI_MODELS } from './semi.js';

/**
 * Profiles: which experiment matrix to run and at what fidelity. `paper` is the official setting;
 * `quick` and `smoke` are reduced, and every result they write says so.
 */
export interface ProfileConfig {
  name: string;
  reduced: boolean;
  description: string;
  models: string[];
  datasets: DatasetName[];
  fractions: number[];
  /** Seeds per dataset: MoNuSeg's 14 test images swing by several Dice points between seeds. */
  seeds: Record<DatasetName, number[]>;
  /**
   * Semi-supervised variants (configs/semi.ts) per dataset and label fraction (< 100 %); each runs
   * after, and starts from, the supervised run of its base model with the same fraction and seed.
   */
  semiModels: Record<DatasetName, Record<number, string[]>>;
  /** Stage 2's schedule (default: `schedules`): an epoch of stage 2 covers labelled and unlabelled images. */
  semiSchedules?: Record<DatasetName, ScheduleConfig>;
  /** Model configs by model name (width, token grid, ...), merged over `baseModels`. */
  modelConfigs: Record<string, Record<string, unknown>>;
  schedules: Record<DatasetName, ScheduleConfig>;
  data: Record<DatasetName, DataConfig>;
  /** Text encoder: 'auto' takes BERT when a local copy exists, else the offline USE-lite substitute. */
  textEncoder: 'auto' | 'bert' | 'use-lite' | 'tiny-random-bert';
}

const ALL_MODELS = ['unet', 'transunet', 'lvit-t', 'lvit-tw'];
const ALL_DATASETS: DatasetName[] = ['monuseg', 'qata'];

function perDataset<T>(make: (d: DatasetName) => T): Record<DatasetName, T> {
  return { monuseg: make('monuseg'), qata: make('qata') };
}

function narrowed(base: number, tokenGrid: number): Record<string, Record<string, unknown>> {
  return {
    unet: { ...baseModels.unet, baseChannels: base },
    'lvit-t': { ...baseModels['lvit-t'], baseChannels: base, tokenGrid },
    'lvit-tw': { ...baseModels['lvit-tw'], baseChannels: base, tokenGrid },
    transunet: reducedTransUNet(base),
  };
}

/**
 * TransUNet with every block kept (ResNet root + 3 blocks of pre-activation bottlenecks with and without
 * projection, hybrid embedding, pre-norm transformer blocks + encoder_norm, conv_more, 4 decoder blocks,
 * 3 skips) and depth and widths cut to fit the quick profile: ResNet units (1, 2, 2) at width 32 (the
 * GroupNorm(32) floor), 4 transformer layers of hidden 4·base with 4 heads and MLP 16·base, conv_more
 * 4·base, decoder channels (4, 2, 1, 1)·base. The token grid is the input side / 16. At base 16 (quick,
 * 128x128, batch 4) a train step takes ~0.9 s on the 2-core machine (the full R50 depth with these widths
 * took ~2 s), about LViT-T's cost.
 */
function reducedTransUNet(base: number): Record<string, unknown> {
  return {
    ...baseModels.transunet,
    widthFactor: 0.5,
    resnetUnits: [1, 2, 2],
    numLayers: 4,
    hiddenSize: 4 * base,
    numHeads: 4,
    mlpDim: 16 * base,
    headChannels: 4 * base,
    decoderChannels: [4 * base, 2 * base, base, base],
  };
}

export const paperProfile: ProfileConfig = {
  name: 'paper',
  reduced: false,
  description: 'Official LViT settings: 224x224, full width, batch 2, up to 2000 epochs with patience 50. Meant for a GPU.',
  models: ALL_MODELS,
  datasets: ALL_DATASETS,
  fractions: [25, 50, 100],
  seeds: { monuseg: [666, 667, 668], qata: [666] },
  semiModels: perDataset(() => ({ 25: [...MAIN_SEMI_MODELS, ...ABLATION_SEMI_MODELS], 50: [...MAIN_SEMI_MODELS, ...ABLATION_SEMI_MODELS] })),
  modelConfigs: baseModels,
  schedules: perDataset((d) => ({ ...officialSchedule, lr0: officialLearningRate[d] })),
  data: officialData,
  textEncoder: 'auto',
};

export const quickProfile: ProfileConfig = {
  name: 'quick',
  reduced: true,
  description:
    'Reduced compute for a 2-core CPU (about 2 hours for the matrix on the onnxruntime backend): 128x128 input, ' +
    'base width 16 (1/4 of the paper), LViT token grid 8x8, TransUNet with ResNet units (1, 2, 2) and 4 transformer layers of width 64, batch 4; MoNuSeg up to 30 epochs (patience 10) with 3 seeds, ' +
    'QaTa 4 epochs on seeded subsets (300 train / 100 val / 300 test images) with 1 seed; semi-supervised stage 2 ' +
    'up to 15 epochs (patience 5) on MoNuSeg and 2 on QaTa, ablations at 25 % labels on MoNuSeg only. Not comparable to the paper as equals.',
  models: ALL_MODELS,
  datasets: ALL_DATASETS,
  fractions: [25, 50, 100],
  seeds: { monuseg: [666, 667, 668], qata: [666] },
  // The ablations (binary targets, per-epoch EMA) run at 25 % only: they double MoNuSeg's semi cost.
  semiModels: {
    monuseg: { 25: [...MAIN_SEMI_MODELS, ...ABLATION_SEMI_MODELS], 50: MAIN_SEMI_MODELS },
    qata: { 25: MAIN_SEMI_MODELS, 50: MAIN_SEMI_MODELS },
  },
  modelConfigs: narrowed(16, 8),
  schedules: {
    monuseg: { ...officialSchedule, batchSize: 4, maxEpochs: 30, patience: 10, lr0: officialLearningRate.monuseg },
    qata: { ...officialSchedule, batchSize: 4, maxEpochs: 4, patience: 2, lr0: officialLearningRate.qata, minSaveEpoch: 0 },
  },
  // Stage 2 steps over every image, so its epochs cost what a 100 % epoch does: half as many on MoNuSeg.
  semiSchedules: {
    monuseg: { ...officialSchedule, batchSize: 4, maxEpochs: 15, patience: 5, lr0: officialLearningRate.monuseg },
    qata: { ...officialSchedule, batchSize: 4, maxEpochs: 2, patience: 2, lr0: officialLearningRate.qata, minSaveEpoch: 0 },
  },
  data: {
    monuseg: { imageSize: 128, qualitativeCount: 3 },
    qata: { imageSize: 128, limits: { train: 300, val: 100, test: 300 }, qualitativeCount: 3 },
  },
  textEncoder: 'auto',
};

export const smokeProfile: ProfileConfig = {
  name: 'smoke',
  reduced: true,
  description:
    'CI smoke test: every model and dataset on tiny subsets at 64x64, width 8, 2 epochs of 3 steps. Checks the pipeline end to end; its numbers mean nothing.',
  models: ALL_MODELS,
  datasets: ALL_DATASETS,
  fractions: [50, 100],
  seeds: perDataset(() => [666]),
  semiModels: perDataset(() => ({ 50: ['lvit-t+epi+lv'] })),
  modelConfigs: narrowed(8, 4),
  schedules: perDataset((d) => ({
    ...officialSchedule,
    batchSize: 2,
    maxEpochs: 2,
    patience: 2,
    lr0: officialLearningRate[d],
    minSaveEpoch: 0,
    maxStepsPerEpoch: 3,
  })),
  data: perDataset(() => ({ imageSize: 64, limits: { train: 8, val: 4, test: 6 }, qualitativeCount: 2 })),
  textEncoder: 'auto',
};

export const PROFILES: Record<string, ProfileConfig> = {
  smoke: smokeProfile,
  quick: quickProfile,
  paper: paperProfile,
};

export function getProfile(name: string): ProfileConfig {
  const profile = PROFILES[name];
  if (!profile) throw new Error(`Unknown profile '${name}'. Profiles: ${Object.keys(PROFILES).join(', ')}`);
  return profile;
}
