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
  /**
   * The weights training started from, where the paper's setting starts from pretrained ones (TransUNet:
   * 'from scratch (no ImageNet-21k)', or the ImageNet-21k `.npz` loaded, `<file name> sha256:<hex>`).
   */
  pretrained?: string;
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
    /** Wall time of the process that finished the run (from `startedAt`). */
    wallTimeSec: number;
    /**
     * Start times of every process that worked on the run, oldest first (more than one after an
     * interruption), and the epochs' summed train + validation time over all of them (epochs lost
     * to a kill are not counted): the cost of the run across interruptions.
     */
    segments?: string[];
    epochTimeSec?: number;
  };
  val: { bestDice: number; bestEpoch: number };
  /**
   * Official test convention (LVIT.md §4): per-image mean, empty/empty = 0. Fractions in [0,1].
   * `pooled`: TP/FP/FN summed over the test set first (train/metrics.ts); absent in older results.
   */
  test: { dice: number; iou: number; n: number; perImage: PerImageScore[]; pooled?: { dice: number; iou: number } };
  curves: EpochRecord[];
  /** Fixed test images with paths (relative to the result file) of image, ground truth and prediction PNGs. */
  qualitative: { id: string; text: string; image: string; groundTruth: string; prediction: string }[];
  /** Present on semi-supervised runs (EPI, LV loss; LVIT.md §2.2): what stage 2 did and what it started from. */
  semi?: SemiSupervisedInfo;
}

/** EPI's open choices (SEMI.md): each one an option, see train/epi.ts for the defaults and why. */
export interface EpiConfig {
  /** EMA momentum: P_t = beta * P_{t-1} + (1 - beta) * p_t (paper: 0.99). */
  beta: number;
  /** Train against the soft EMA map, or against it binarised at 0.5. */
  target: 'soft' | 'binary';
  /**
   * 'iteration': update an image's EMA from the step that trained on it (train-mode prediction,
   * mapped back from the augmented frame); 'epoch': once per epoch from an eval-mode pass over
   * the un-augmented unlabeled images; 'mean-teacher': the EMA runs over the model's weights
   * instead (after every optimizer step), and the teacher's eval-mode prediction of the batch is
   * the pseudo-label.
   */
  update: 'iteration' | 'epoch' | 'mean-teacher';
  /** Weight of the pseudo-label Dice+BCE term on unlabeled batches. */
  weight: number;
}

/** The language-vision loss's open choices (SEMI.md), see train/lv-loss.ts. */
export interface LvLossConfig {
  /** Weight of 1 - ImgSim (the official `WeightedDiceBCE_unsup` leftover: 0.1). */
  weight: number;
  /** Which text vector TextSim compares: the mean of the token features, or the flattened [T*D] matrix. */
  textVector: 'mean' | 'flat';
}

export interface SemiSupervisedInfo {
  /** The supervised model both stages train ('unet', 'lvit-t', 'lvit-tw'). */
  baseModel: string;
  /** Stage 1: the supervised run on the labelled subset whose best checkpoint starts stage 2. */
  prototypeRunId: string;
  /** The prototype's best checkpoint, relative to this result file. */
  prototypeCheckpoint: string;
  labeledImages: number;
  unlabeledImages: number;
  epi: EpiConfig;
  /** null when the variant has no LV loss (LViT-TW and U-Net have no text; or the EPI-only ablation). */
  lv:
    | (LvLossConfig & {
        /** Where the contrastive labels come from: LViT's 14 published QaTa masks, or this run's labelled images. */
        bank: 'official-contrastive-labels' | 'labeled-images';
        bankSize: number;
      })
    | null;
}

/** One decoded, resized image and its text, without a mask. */
export interface ImageSample {
  id: string;
  /** [H*W*C] row-major HWC, values in [0,1]. */
  image: Float32Array;
  /** The report sentence for this image (raw, before LViT's text preprocessing). */
  text: string;
}

/** One decoded, resized sample: what a dataset split hands to training and evaluation. */
export interface SegSample extends ImageSample {
  /** [H*W], values {0,1}. */
  mask: Uint8Array;
}

/** What every split shares: its identity, size and image geometry. */
export interface SplitInfo {
  readonly dataset: string;
  readonly split: 'train' | 'val' | 'test';
  readonly size: number;
  readonly height: number;
  readonly width: number;
  readonly channels: number;
  readonly ids: readonly string[];
  /** The report sentence of sample `index`, without decoding its image (text encoders need only this). */
  text(index: number): string;
}

/** A split of a prepared dataset at a fixed model size. */
export interface SegSplit extends SplitInfo {
  sample(index: number): SegSample;
  /** Image and text of sample `index`; its mask is not read. */
  image(index: number): ImageSample;
}

/**
 * Unlabelled images as semi-supervised training sees them: there is no way to reach a mask
 * through this type, and `unlabeledView` builds it from a split's `image()` alone.
 */
export interface UnlabeledSplit extends SplitInfo {
  image(index: number): ImageSample;
}
