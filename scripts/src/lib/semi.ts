/**
 * Stage 2 of a semi-supervised run (configs/semi.ts): find the prototype (the supervised run of the
 * base model with the same dataset, fraction and seed), start from its best checkpoint, and give the
 * loop EPI's pseudo-label term and hooks plus, for text models, the LV loss.
 */
import { join, relative } from 'node:path';
import {
  assignContrastiveLabels,
  contrastiveBankFromLabeled,
  createEpi,
  createLvLossTerm,
  loadCheckpointSync,
  loadModelState,
  LossTerm,
  runPaths,
  SegmentationModel,
  SegSplit,
  SemiSupervisedInfo,
  TrainHooks,
  UnlabeledSplit,
  unlabeledView,
  writeJsonAtomic,
} from '@lvit-bench/core';
import { readLabelManifest, subsetSplit, type LabelManifest } from '@lvit-bench/datasets';
import { LV_BANK, SemiVariant } from '../configs/semi.js';
import { LABELS_FILE, readResult, RESULT_FILE, RunContext, runDirOf, runIdOf, RunSpec, scheduleOf } from './run.js';

export interface Stage2 {
  unlabeled: UnlabeledSplit;
  extraTerms: LossTerm[];
  hooks: TrainHooks;
  info: SemiSupervisedInfo;
  dispose(): void;
}

/** The prototype's run folder: the supervised base model, same dataset, fraction and seed. */
export function prototypeSpec(spec: RunSpec, variant: SemiVariant): RunSpec {
  return { ...spec, model: variant.base, unetInit: false };
}

/**
 * Load the prototype's best weights into `model` and build stage 2. `train` is the labelled
 * subset; the unlabelled images are handed on as a view without mask access. `createModel` builds
 * another model like `model` (the mean teacher's).
 */
export function setUpStage2(
  spec: RunSpec,
  variant: SemiVariant,
  model: SegmentationModel,
  createModel: () => SegmentationModel,
  ctx: RunContext,
  dir: string,
  labels: LabelManifest,
  train: SegSplit,
): Stage2 {
  const runId = runIdOf(ctx.profile.name, spec);
  const proto = prototypeSpec(spec, variant);
  const protoDir = runDirOf(ctx.runsRoot, ctx.profile.name, proto);
  const protoId = runIdOf(ctx.profile.name, proto);
  const protoResult = readResult(join(protoDir, RESULT_FILE));
  if (protoResult.status !== 'complete') {
    const why = protoResult.status === 'missing' ? `${join(protoDir, RESULT_FILE)} is missing` : protoResult.reason;
    throw new Error(`${runId}: stage 2 starts from the supervised prototype ${protoId}, which has not finished (${why})`);
  }
  const protoLabels = readLabelManifest(join(protoDir, LABELS_FILE));
  if (protoLabels.labeledSha256 !== labels.labeledSha256) {
    throw new Error(`${runId}: the prototype ${protoId} was trained on another labelled subset (${join(protoDir, LABELS_FILE)})`);
  }
  const checkpoint = runPaths(protoDir).best;
  loadModelState(model, loadCheckpointSync(checkpoint).model, { strict: true });

  const unlabeled = unlabeledView(subsetSplit(ctx.data.train, labels.unlabeled));
  if (unlabeled.size === 0) throw new Error(`${runId}: no unlabelled images at ${spec.labelFraction} % labels`);
  const schedule = scheduleOf(ctx.profile, spec.dataset, true);
  const textInput = model.usesText ? { textFeatures: ctx.text!.lookup, textShape: ctx.text!.shape } : {};
  const epi = createEpi(variant.epi, unlabeled, { batchSize: schedule.batchSize, ...textInput, createTeacher: createModel });
  const extraTerms: LossTerm[] = [epi.term];
  let lv: SemiSupervisedInfo['lv'] = null;
  if (variant.lv) {
    if (!ctx.text) throw new Error(`${runId}: the LV loss compares texts, but no text encoder was opened`);
    const bankKind = LV_BANK[spec.dataset];
    const bank = bankKind === 'official-contrastive-labels' ? ctx.contrastiveLabels : contrastiveBankFromLabeled(train);
    if (!bank) throw new Error(`${runId}: ${spec.dataset}'s contrastive labels were not loaded`);
    const assignment = assignContrastiveLabels(unlabeled, bank, { features: ctx.text.lookup, shape: ctx.text.shape }, variant.lv.textVector);
    // Which label each unlabelled image was compared with, for anyone checking TextSim's choices.
    writeJsonAtomic(join(dir, 'lv-assignment.json'), Object.fromEntries([...assignment].map(([id, k]) => [id, bank[k].id])));
    extraTerms.push(createLvLossTerm(variant.lv, bank, assignment));
    lv = { ...variant.lv, bank: bankKind, bankSize: bank.length };
  }
  ctx.log(`${runId}: stage 2 from ${relative(process.cwd(), checkpoint)}: ${train.size} labelled + ${unlabeled.size} unlabelled images`);
  return {
    unlabeled,
    extraTerms,
    hooks: epi.hooks,
    info: {
      baseModel: variant.base,
      prototypeRunId: protoId,
      prototypeCheckpoint: relative(dir, checkpoint),
      labeledImages: train.size,
      unlabeledImages: unlabeled.size,
      epi: variant.epi,
      lv,
    },
    dispose: () => epi.dispose(),
  };
}
