/**
 * Base configs (MMSegmentation-style `_base_`): the official LViT settings as data. Profiles in
 * ./profiles.ts start from these and override only what they reduce.
 */
import { TRANSUNET_R50_B16 } from '@lvit-bench/baselines';

export type DatasetName = 'monuseg' | 'qata';

export interface ScheduleConfig {
  batchSize: number;
  maxEpochs: number;
  /** Early stop when epoch - bestEpoch + 1 > patience (validation Dice). */
  patience: number;
  lr0: number;
  lrFloor: number;
  /** Cosine warm-restart period in epochs. */
  t0: number;
  /** The best checkpoint is only saved from this epoch on (official: after epoch 5). */
  minSaveEpoch: number;
  /** Cap on optimizer steps per epoch (smoke runs only). */
  maxStepsPerEpoch?: number;
}

export interface DataConfig {
  imageSize: number;
  /** Seeded subsets per split; absent = the whole split. */
  limits?: { train?: number; val?: number; test?: number };
  /** Test images shown in the report's qualitative panel (the first N test ids in sorted order). */
  qualitativeCount: number;
}

/** Official model widths (LVIT.md §1, §6). `textDim` is filled from the text encoder at run time. */
export const baseModels = {
  unet: { inChannels: 3, baseChannels: 64 },
  'lvit-t': { inChannels: 3, baseChannels: 64, tokenGrid: 14, withText: true },
  'lvit-tw': { inChannels: 3, baseChannels: 64, tokenGrid: 14, withText: false },
  /** TransUNet R50-ViT-B/16 (TRANSUNET.md): the official config from baselines, trained from scratch (no ImageNet-21k). */
  transunet: { ...TRANSUNET_R50_B16 },
} satisfies Record<string, Record<string, unknown>>;

/** Official recipe (LVIT.md §2.1): Adam, batch 2, cosine warm restarts T0 10 floor 1e-4, patience 50. */
export const officialSchedule = {
  batchSize: 2,
  maxEpochs: 2000,
  patience: 50,
  lr0: 1e-3,
  lrFloor: 1e-4,
  t0: 10,
  minSaveEpoch: 5,
} satisfies ScheduleConfig;

/** Config.py: "MoNuSeg: 1e-3, Covid19: 3e-4". */
export const officialLearningRate: Record<DatasetName, number> = { monuseg: 1e-3, qata: 3e-4 };

export const officialData: Record<DatasetName, DataConfig> = {
  monuseg: { imageSize: 224, qualitativeCount: 3 },
  qata: { imageSize: 224, qualitativeCount: 3 },
};
