import { loadImageNet21kNpz, TransUNet } from '@lvit-bench/baselines';
import type { SegmentationModel } from '@lvit-bench/core';

/** What a TransUNet result records when training starts from random weights (the suite's default). */
export const FROM_SCRATCH = 'from scratch (no ImageNet-21k)';

/**
 * The weights a TransUNet run starts from, as its result's `pretrained` records them: the paper's
 * setting starts from ImageNet-21k (`--transunet-weights R50+ViT-B_16.npz`, loaded as the official
 * load_from: encoder only, the decoder stays random); without it the suite trains from scratch.
 */
export function startTransUNet(model: SegmentationModel, weights: string | undefined, log: (msg: string) => void): string {
  if (weights === undefined) return FROM_SCRATCH;
  if (!(model instanceof TransUNet)) throw new Error(`--transunet-weights applies to TransUNet, not '${model.name}'`);
  const info = loadImageNet21kNpz(model, weights);
  log(
    `transunet: ${info.loaded.length} encoder tensors from ${info.file} (sha256 ${info.sha256}); position embedding ${info.positionEmbedding}; ` +
      `${info.kept.length} decoder/head tensors keep their initialisation; ${info.ignored.length} keys of the file unused (${info.ignored.slice(0, 4).join(', ')}${info.ignored.length > 4 ? ', ...' : ''})`,
  );
  return `${info.file} sha256:${info.sha256}`;
}
