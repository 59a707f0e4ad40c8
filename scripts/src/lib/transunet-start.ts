import type { SegmentationModel } from '@lvit-bench/core';

/** What a TransUNet result records when training starts from random weights (the suite's default). */
export const FROM_SCRATCH = 'from scratch (no ImageNet-21k)';

/**
 * The weights a TransUNet run starts from, as its result's `pretrained` records them. The paper's
 * setting starts from ImageNet-21k; without `--transunet-weights` the suite trains from scratch.
 */
export function startTransUNet(_model: SegmentationModel): string {
  return FROM_SCRATCH;
}
