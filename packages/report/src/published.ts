/**
 * Published numbers the report compares against, transcribed as data from
 * shared/spec/RESULTS.md. Nothing here may come from anywhere else: RESULTS.md is the only source,
 * and every entry carries the source label the report must print next to it.
 * Dice and IoU are in %, per-image means at 224x224 over the test images (LVIT.md §4).
 */

export type SourceLabel = 'verified: official LViT README' | 'secondary source';

export interface PublishedEntry {
  /** 'monuseg' | 'qata' | 'mosmed' */
  dataset: string;
  /** Run model key ('unet', 'lvit-t', 'lvit-tw', 'transunet', 'nnunet') or a key no run uses. */
  model: string;
  /** The row label as the source writes it. */
  modelLabel: string;
  /** Label ratio in % (25, 50, 100). */
  labelPercent: number;
  dice: number;
  iou: number;
  source: SourceLabel;
  /** Which document the number was read from. */
  sourceDetail: string;
  note: string;
}

const VERIFIED: SourceLabel = 'verified: official LViT README';
const SECONDARY: SourceLabel = 'secondary source';
const README = 'GitHub HUANGLIZI/LViT README results table (unchanged since 2022-07-04)';
const RATIO_SUMMARIES = 'label-ratio rows of the TMI paper, from two independent secondary summaries (they agree where they overlap)';
const THIRD_PARTY = "the paper's fully-supervised table as quoted by a third-party GitHub README";
const RATIO_NOTE = 'Whether the 25%/50% rows used the semi-supervised machinery (EPI + LV loss) is not stated in the summaries.';
const THIRD_PARTY_NOTE = 'Its U-Net and LViT-T rows agree exactly with the verified README; its nnU-Net Dice values agree with an independent summary.';

function row(
  dataset: string,
  model: string,
  modelLabel: string,
  labelPercent: number,
  dice: number,
  iou: number,
  source: SourceLabel,
  sourceDetail: string,
  note = '',
): PublishedEntry {
  return { dataset, model, modelLabel, labelPercent, dice, iou, source, sourceDetail, note };
}

/** Every published number in RESULTS.md, in its order. Verified rows come first. */
export const PUBLISHED: readonly PublishedEntry[] = Object.freeze([
  // Verified: official LViT README
  row('qata', 'unet', 'U-Net', 100, 79.02, 69.46, VERIFIED, README),
  row('qata', 'lvit-t', 'LViT-T', 100, 83.66, 75.11, VERIFIED, README),
  row('monuseg', 'unet', 'U-Net', 100, 76.45, 62.86, VERIFIED, README),
  // MoNuSeg's 80.36 row is LViT-T initialised from a trained U-Net (the README's "pretrain");
  // 79.98 is the same model trained from scratch, which is what a plain 'lvit-t' run does.
  row('monuseg', 'lvit-t+unet-init', 'LViT-T, U-Net initialised', 100, 80.36, 67.31, VERIFIED, README),
  row('monuseg', 'lvit-t', 'LViT-T, no U-Net pretraining', 100, 79.98, 66.83, VERIFIED, README),
  row('mosmed', 'unet', 'U-Net', 100, 64.6, 50.73, VERIFIED, README),
  row('mosmed', 'lvit-t', 'LViT-T', 100, 74.57, 61.33, VERIFIED, README),
  // Secondary: label-ratio rows
  row('qata', 'lvit-tw', 'LViT-TW', 25, 79.08, 69.42, SECONDARY, RATIO_SUMMARIES, RATIO_NOTE),
  row('qata', 'lvit-tw', 'LViT-TW', 50, 80.35, 70.74, SECONDARY, RATIO_SUMMARIES, RATIO_NOTE),
  row('qata', 'lvit-tw', 'LViT-TW', 100, 81.12, 71.37, SECONDARY, RATIO_SUMMARIES),
  row('qata', 'lvit-t', 'LViT-T', 25, 80.95, 71.31, SECONDARY, RATIO_SUMMARIES, RATIO_NOTE),
  row('qata', 'lvit-t', 'LViT-T', 50, 82.73, 73.99, SECONDARY, RATIO_SUMMARIES, RATIO_NOTE),
  row('qata', 'lvit-t', 'LViT-T', 100, 83.66, 75.11, SECONDARY, RATIO_SUMMARIES),
  row('mosmed', 'lvit-tw', 'LViT-TW', 25, 70.65, 58.07, SECONDARY, RATIO_SUMMARIES, RATIO_NOTE),
  row('mosmed', 'lvit-tw', 'LViT-TW', 50, 71.89, 59.63, SECONDARY, RATIO_SUMMARIES, RATIO_NOTE),
  row('mosmed', 'lvit-tw', 'LViT-TW', 100, 72.58, 60.4, SECONDARY, RATIO_SUMMARIES),
  row('mosmed', 'lvit-t', 'LViT-T', 25, 72.48, 60.31, SECONDARY, RATIO_SUMMARIES, RATIO_NOTE),
  row('mosmed', 'lvit-t', 'LViT-T', 50, 73.56, 61.05, SECONDARY, RATIO_SUMMARIES, RATIO_NOTE),
  row('mosmed', 'lvit-t', 'LViT-T', 100, 74.57, 61.33, SECONDARY, RATIO_SUMMARIES),
  // Secondary: baseline rows quoted by a third-party README
  row('qata', 'nnunet', 'nnU-Net', 100, 80.42, 70.81, SECONDARY, THIRD_PARTY, THIRD_PARTY_NOTE),
  row('qata', 'transunet', 'TransUNet', 100, 78.63, 69.13, SECONDARY, THIRD_PARTY, THIRD_PARTY_NOTE),
  row('mosmed', 'nnunet', 'nnU-Net', 100, 72.59, 60.36, SECONDARY, THIRD_PARTY, THIRD_PARTY_NOTE),
  row('mosmed', 'transunet', 'TransUNet', 100, 71.24, 58.44, SECONDARY, THIRD_PARTY, THIRD_PARTY_NOTE),
  row('qata', 'dtc', 'DTC (semi-supervised)', 25, 76.07, 66.04, SECONDARY, THIRD_PARTY, THIRD_PARTY_NOTE),
  row('qata', 'mc-net', 'MC-Net (semi-supervised)', 25, 76.93, 67.02, SECONDARY, THIRD_PARTY, THIRD_PARTY_NOTE),
  row('qata', 'lvit-t', 'LViT-T', 25, 80.95, 71.31, SECONDARY, THIRD_PARTY, THIRD_PARTY_NOTE),
]);

/** What RESULTS.md says could not be transcribed; the report prints it instead of guessing. */
export const NOT_AVAILABLE_NOTE =
  "TransUNet on MoNuSeg, the other baselines (UNet++, AttUNet, MedT, Swin-Unet, GLoRIA, LAVT, ...), the paper's " +
  'Param/FLOPs columns and its ablations could not be transcribed from a primary source, so they are shown as "not published here".';

/** The data caveats RESULTS.md requires the report to state. */
export const DATA_CAVEATS: readonly string[] = Object.freeze([
  "QaTa-COV19 train/val text here is a normalised rewrite of LViT's sentences (LViT's original train/val sentences are " +
    "not published anywhere reachable); the test set has LViT's verbatim sentences too. See data/qata/README.md.",
  'The QaTa val split staged here holds 300 of 1429 images.',
]);

export const DATASET_LABELS: Readonly<Record<string, string>> = Object.freeze({
  monuseg: 'MoNuSeg',
  qata: 'QaTa-COV19',
  mosmed: 'MosMedData+',
});

export const MODEL_LABELS: Readonly<Record<string, string>> = Object.freeze({
  unet: 'U-Net',
  // Its runs say which weights they started from (from scratch, or ImageNet-21k): see resultModelLabel.
  transunet: 'TransUNet',
  'transunet+in21k': 'TransUNet',
  nnunet: 'nnU-Net',
  'lvit-tw': 'LViT-TW',
  'lvit-t': 'LViT-T',
  'lvit-t+unet-init': 'LViT-T (U-Net init)',
  'lvit-tw+unet-init': 'LViT-TW (U-Net init)',
  'unet+epi': 'U-Net + EPI',
  'lvit-tw+epi': 'LViT-TW + EPI',
  'lvit-t+epi': 'LViT-T + EPI (no LV loss)',
  'lvit-t+epi+lv': 'LViT-T + EPI + LV loss',
  'lvit-t+epi-binary+lv': 'LViT-T + EPI (binary targets) + LV loss',
  'lvit-t+epi-epoch+lv': 'LViT-T + EPI (per-epoch update) + LV loss',
  'lvit-t+epi-teacher+lv': 'LViT-T + EPI (mean teacher) + LV loss',
});

/**
 * Semi-supervised runs (EPI, LV loss) whose published comparison is the base model's 25%/50% row:
 * the paper's LViT-T at those ratios is the text + EPI + LV method, LViT-TW the no-text one with
 * EPI. RATIO_NOTE stays attached: the summaries do not say whether those rows used EPI + LV.
 * Other semi variants (U-Net + EPI, the ablations) have no published number.
 */
export const SEMI_PUBLISHED_AS: Readonly<Record<string, string>> = Object.freeze({
  'lvit-t+epi+lv': 'lvit-t',
  'lvit-tw+epi': 'lvit-tw',
});
const SEMI_PUBLISHED_FRACTIONS = [25, 50];

/** The published model key whose number a run of `model` at `labelPercent` is compared with. */
export function publishedModelFor(model: string, labelPercent: number): string {
  if (model === 'transunet+in21k') return 'transunet'; // the paper's TransUNet started from ImageNet-21k
  const as = SEMI_PUBLISHED_AS[model];
  return as && SEMI_PUBLISHED_FRACTIONS.includes(labelPercent) ? as : model;
}

/** Display order: baselines first, then LViT without and with text; semi rows right after their base model. */
export const MODEL_ORDER = [
  'unet',
  'unet+epi',
  'transunet',
  'transunet+in21k',
  'nnunet',
  'lvit-tw',
  'lvit-tw+epi',
  'lvit-t',
  'lvit-t+epi',
  'lvit-t+epi+lv',
  'lvit-t+epi-binary+lv',
  'lvit-t+epi-epoch+lv',
  'lvit-t+epi-teacher+lv',
  'lvit-tw+unet-init',
  'lvit-t+unet-init',
];

export function datasetLabel(dataset: string): string {
  return DATASET_LABELS[dataset] ?? dataset;
}

export function modelLabel(model: string): string {
  return MODEL_LABELS[model] ?? model;
}

/**
 * A run's model label, with the weights it started from where its result records them (TransUNet:
 * 'TransUNet · from scratch (no ImageNet-21k)'; a weights file's sha256 is cut to 12 hex digits).
 */
export function resultModelLabel(r: { model: string; pretrained?: string }): string {
  if (!r.pretrained) return modelLabel(r.model);
  return `${modelLabel(r.model)} · ${r.pretrained.replace(/sha256:([0-9a-f]{12})[0-9a-f]{52}/, 'sha256:$1…')}`;
}

export function compareModels(a: string, b: string): number {
  const rank = (m: string) => (MODEL_ORDER.includes(m) ? MODEL_ORDER.indexOf(m) : MODEL_ORDER.length);
  return rank(a) - rank(b) || a.localeCompare(b);
}

/**
 * The published number for one table cell: a verified entry wins over a secondary one; among
 * equals the first listed wins. `others` are further sources that give the same cell.
 */
export function findPublished(
  dataset: string,
  model: string,
  labelPercent: number,
  entries: readonly PublishedEntry[] = PUBLISHED,
): { entry: PublishedEntry; others: PublishedEntry[] } | null {
  const matches = entries.filter((e) => e.dataset === dataset && e.model === model && e.labelPercent === labelPercent);
  if (matches.length === 0) return null;
  const best = matches.find((e) => e.source === VERIFIED) ?? matches[0];
  return { entry: best, others: matches.filter((e) => e !== best) };
}

/** Published entries for one dataset, in display order (model, then label ratio), one per cell. */
export function publishedForDataset(dataset: string, entries: readonly PublishedEntry[] = PUBLISHED): PublishedEntry[] {
  const seen = new Set<string>();
  const out: PublishedEntry[] = [];
  for (const e of entries.filter((x) => x.dataset === dataset)) {
    const key = `${e.model}|${e.labelPercent}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(findPublished(e.dataset, e.model, e.labelPercent, entries)!.entry);
  }
  return out.sort((a, b) => compareModels(a.model, b.model) || a.labelPercent - b.labelPercent);
}
