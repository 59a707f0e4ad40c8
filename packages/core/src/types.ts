import type * as tf from '@tensorflow/tfjs';
import type { ForwardContext, Module } from './nn/module.js';

/**
 * The contract every segmentation model in the suite meets (U-Net, LViT-T, LViT-TW, TransUNet).
 * Layout is NHWC: image [B,H,W,C] in [0,1]; text [B,T,D] per-token features (T = 10 for LViT);
 * output [B,H,W,1] foreground probabilities (sigmoid already applied, as in the official code).
 */
export interface SegmentationModel extends Module {
  readonly name: string;
  /** Whether `forward` reads the text tensor (LViT-T yes; U-Net and LViT-TW no). */
  readonly usesText: boolean;
  forward(image: tf.Tensor4D, text: tf.Tensor3D | null, ctx: ForwardContext): tf.Tensor4D;
}

/** Which published table row a run corresponds to, and at what fidelity. */
export interface ProfileInfo {
  name: string;
  /** True when width, resolution, epochs or data were cut from the paper's settings. */
  reduced: boolean;
  description: string;
}

export interface TextEncoderInfo {
  name: string; // 'bert-base-uncased' | 'use-lite' | 'tiny-random-bert' | ...
  dim: number;
  pretrained: boolean;
  /** True when this is not the encoder the paper used (BERT-base uncased). */
  substitute: boolean;
  description: string;
}

export interface PerImageScore {
  id: string;
  dice: number;
  iou: number;
}

export interface EpochRecord {
  epoch: number;
  trainLoss: number;
  valLoss?: number;
  valDice: number;
  valIoU: number;
  lr: number;
  timeSec: number;
  /** Extra loss terms (e.g. lv, pseudo) averaged over the epoch, by name. */
  terms?: Record<string, number>;
}

/** One `result.json`: everything the report needs about one finished run. */
export interface RunResult {
  schema: 'lvit-bench/run@1';
  runId: string;
  model: string;
  modelConfig: Record<string, unknown>;
  paramCount: number;
  /** Forward multiply-accumulates per image at the run's input size (conv + linear), if known. */
  macsPerImage?: number;
  dataset: string;
  labelFraction: number;
  seed: number;
  profile: ProfileInfo;
  train: {
    epochsRun: number;
    maxEpochs: number;
    batchSize: number;
    imageSize: number;
    trainImages: number;
    labeledImages: number;
    earlyStopped: boolean;
  };
  provenance: {
    backend: string;
    backendDetail: string;
    device: string;
    gitCommit: string;
    gitDirty: boolean;
    dataManifestHash: string;
    /** Label manifest relative to the result file, with the sha256 of its labeled ids: `labels.json#sha256:<hex>`. */
    labelManifest: string;
    textEncoder: TextEncoderInfo | null;
    node: string;
    startedAt: string;
    finishedAt: string;
    wallTimeSec: number;
  };
  val: { bestDice: number; bestEpoch: number };
  /** Official test convention (LVIT.md §4): per-image mean, empty/empty = 0. Fractions in [0,1]. */
  test: { dice: number; iou: number; n: number; perImage: PerImageScore[] };
  curves: EpochRecord[];
  /** Fixed test images with paths (relative to the result file) of image, ground truth and prediction PNGs. */
  qualitative: { id: string; text: string; image: string; groundTruth: string; prediction: string }[];
}

/** One decoded, resized sample: what a dataset split hands to training and evaluation. */
export interface SegSample {
  id: string;
  /** [H*W*C] row-major HWC, values in [0,1]. */
  image: Float32Array;
  /** [H*W], values {0,1}. */
  mask: Uint8Array;
  /** The report sentence for this image (raw, before LViT's text preprocessing). */
  text: string;
}

/** A split of a prepared dataset at a fixed model size. */
export interface SegSplit {
  readonly dataset: string;
  readonly split: 'train' | 'val' | 'test';
  readonly size: number;
  readonly height: number;
  readonly width: number;
  readonly channels: number;
  readonly ids: readonly string[];
  sample(index: number): SegSample;
  /** The report sentence of sample `index`, without decoding its image (text encoders need only this). */
  text(index: number): string;
}
