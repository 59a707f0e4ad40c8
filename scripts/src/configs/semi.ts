/**
 * LViT's semi-supervised variants as data (LVIT.md §2.2, SEMI.md): which supervised model trains
 * in both stages, and EPI's and the LV loss's options. Stage 1 is the supervised run of `base` on
 * the labelled subset (the matrix's own f25/f50 run); stage 2 starts from its best checkpoint.
 */
import { DEFAULT_EPI, DEFAULT_LV, type EpiConfig, type LvLossConfig, type SemiSupervisedInfo } from '@lvit-bench/core';
import type { DatasetName } from './base.js';

export interface SemiVariant {
  base: 'unet' | 'lvit-t' | 'lvit-tw';
  epi: EpiConfig;
  /** null: no LV loss (models without text, and the EPI-only ablation). */
  lv: LvLossConfig | null;
  description: string;
}

export const SEMI_VARIANTS: Readonly<Record<string, SemiVariant>> = Object.freeze({
  'lvit-t+epi+lv': { base: 'lvit-t', epi: DEFAULT_EPI, lv: DEFAULT_LV, description: "LViT-T with EPI pseudo-labels and the LV loss (the paper's method)" },
  'lvit-t+epi': { base: 'lvit-t', epi: DEFAULT_EPI, lv: null, description: 'LViT-T with EPI only (ablation: what the LV loss adds)' },
  'lvit-tw+epi': { base: 'lvit-tw', epi: DEFAULT_EPI, lv: null, description: 'LViT-TW with EPI (no text, so no LV loss)' },
  'unet+epi': { base: 'unet', epi: DEFAULT_EPI, lv: null, description: 'U-Net with EPI: the control for what EPI buys without text' },
  'lvit-t+epi-binary+lv': {
    base: 'lvit-t',
    epi: { ...DEFAULT_EPI, target: 'binary' },
    lv: DEFAULT_LV,
    description: 'LViT-T, EPI + LV, pseudo-labels binarised at 0.5 (ablation)',
  },
  'lvit-t+epi-teacher+lv': {
    base: 'lvit-t',
    epi: { ...DEFAULT_EPI, update: 'mean-teacher' },
    lv: DEFAULT_LV,
    description: 'LViT-T, EPI read as a mean teacher (EMA of the weights) + LV (ablation)',
  },
  'lvit-t+epi-epoch+lv': {
    base: 'lvit-t',
    epi: { ...DEFAULT_EPI, update: 'epoch' },
    lv: DEFAULT_LV,
    description: 'LViT-T, EPI + LV, EMA updated once per epoch from an eval pass (ablation)',
  },
});

/** The paper's comparison set and the ablations of `lvit-t+epi+lv`. */
export const MAIN_SEMI_MODELS = ['unet+epi', 'lvit-tw+epi', 'lvit-t+epi', 'lvit-t+epi+lv'];
export const ABLATION_SEMI_MODELS = ['lvit-t+epi-binary+lv', 'lvit-t+epi-epoch+lv', 'lvit-t+epi-teacher+lv'];

/**
 * Where each dataset's contrastive labels come from: QaTa has LViT's 14 published masks; MoNuSeg has
 * none, so the run's labelled images (ground truth + text) serve as the bank.
 */
export const LV_BANK: Readonly<Record<DatasetName, NonNullable<SemiSupervisedInfo['lv']>['bank']>> = Object.freeze({
  monuseg: 'labeled-images',
  qata: 'official-contrastive-labels',
});

export function semiVariantOf(model: string): SemiVariant | undefined {
  return SEMI_VARIANTS[model];
}
