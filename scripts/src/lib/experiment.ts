import * as tf from '@tensorflow/tfjs';
import { existsSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { join, relative } from 'node:path';
import {
  copyMatchingWeights,
  createModel,
  evaluateModel,
  getModelEntry,
  removeTornWrites,
  RunResult,
  runPaths,
  SegmentationModel,
  SegSplit,
  trainModel,
  writeJsonAtomic,
} from '@lvit-bench/core';
import {
  lvitAugment,
  LabelManifest,
  makeLabelManifest,
  PreparedDataset,
  readLabelManifest,
  subsetSplit,
  writeLabelManifest,
  writePng,
} from '@lvit-bench/datasets';
import { semiVariantOf } from '../configs/semi.js';
import { setUpStage2, type Stage2 } from './semi.js';
import { claimRun } from './claim.js';
import { acquireRunLock, LOCK_FILE } from './run-lock.js';
import { recordSegmentStart } from './segments.js';
import { startTransUNet } from './transunet-start.js';
import { LABELS_FILE, modelKeyOf, readResult, RESULT_FILE, RunContext, runDirOf, runIdOf, RunSpec, scheduleOf } from './run.js';

export { modelKeyOf, runDirOf, runIdOf, type RunContext, type RunSpec } from './run.js';

/**
 * Train, evaluate and write `result.json` for one run, holding its folder's lock (one writer per
 * run). A run whose valid result exists is skipped, one another process writes is left to it
 * ('busy'); an interrupted one continues from its last checkpoint unless `ctx.restart` discards it.
 */
export async function runExperiment(spec: RunSpec, ctx: RunContext): Promise<RunResult | 'skipped' | 'busy'> {
  const { profile, log } = ctx;
  const dir = runDirOf(ctx.runsRoot, profile.name, spec);
  const resultPath = join(dir, RESULT_FILE);
  const runId = runIdOf(profile.name, spec);
  const claim = claimRun(dir, (d) => acquireRunLock(d, { log }));
  if (claim.status === 'complete') {
    log(`${runId}: complete, skipped (delete ${relative(process.cwd(), resultPath)} to run it again)`);
    return 'skipped';
  }
  if (claim.status === 'busy') {
    log(`${runId}: skipped, another process has it: ${claim.reason}`);
    return 'busy';
  }
  try {
    return await runLocked(spec, ctx, { dir, runId, previous: claim.previous });
  } finally {
    claim.release();
  }
}

/** The run, once this process holds its folder's lock. */
async function runLocked(
  spec: RunSpec,
  ctx: RunContext,
  { dir, runId, previous }: { dir: string; runId: string; previous: ReturnType<typeof readResult> },
): Promise<RunResult> {
  const { profile, data, log } = ctx;
  const resultPath = join(dir, RESULT_FILE);
  const torn = removeTornWrites(dir);
  if (torn.length > 0) log(`${runId}: removed ${torn.length} temp file(s) a killed writer left (${torn.map((f) => relative(dir, f)).join(', ')})`);
  // A result that does not validate is not complete: keep it aside and finish the run from its checkpoints.
  if (previous.status === 'invalid') {
    const aside = `${resultPath}.invalid-${Date.now()}`;
    renameSync(resultPath, aside);
    log(`${runId}: ${previous.reason}; moved to ${relative(process.cwd(), aside)} and finishing the run from its checkpoints`);
  }
  if (ctx.restart && existsSync(join(dir, 'checkpoint'))) {
    log(`${runId}: --restart: discarding the interrupted run's files`);
    for (const entry of readdirSync(dir)) if (entry !== LOCK_FILE && !entry.startsWith(`${RESULT_FILE}.invalid-`)) rmSync(join(dir, entry), { recursive: true, force: true });
  }
  const resume = existsSync(runPaths(dir).last);
  if (resume) log(`${runId}: continuing the interrupted run from its last checkpoint (--restart discards it)`);

  const startedAt = new Date();
  const segments = recordSegmentStart(dir, startedAt);
  const variant = semiVariantOf(spec.model);
  if (variant && spec.unetInit) throw new Error(`${runId}: a semi-supervised run starts from its prototype; --unet-init does not apply`);
  const baseModel = variant?.base ?? spec.model;
  const schedule = scheduleOf(profile, spec.dataset, variant !== undefined);
  const imageSize = profile.data[spec.dataset].imageSize;
  const entry = getModelEntry(baseModel);
  const textShape = entry.usesText ? requireText(ctx, baseModel).shape : undefined;
  const modelConfig = {
    ...profile.modelConfigs[baseModel],
    imageSize,
    ...(textShape ? { textTokens: textShape[0], textDim: textShape[1] } : {}),
  };

  const labels = labelManifestFor(dir, spec, data);
  const train = subsetSplit(data.train, labels.labeled);

  const newModel = () => createModel(baseModel, { ...modelConfig, seed: spec.seed });
  const model = newModel();
  const pretrained = baseModel === 'transunet' ? startTransUNet(model, spec.transunetWeights, log) : undefined;
  let stage2: Stage2 | undefined;
  try {
    const unetInit = spec.unetInit ? initFromUNet(model, spec, ctx, dir) : undefined;
    stage2 = variant ? setUpStage2(spec, variant, model, newModel, ctx, dir, labels, train) : undefined;
    const textFeatures = entry.usesText ? ctx.text!.lookup : undefined;
    log(`${runId}: training ${spec.model} (${model.parameterCount().toLocaleString('en-US')} params) on ${train.size} labeled images`);
    const outcome = await trainModel({
      model,
      data: { train, val: data.val, unlabeled: stage2?.unlabeled },
      extraTerms: stage2?.extraTerms,
      hooks: stage2?.hooks,
      augment: lvitAugment,
      textFeatures,
      textShape,
      batchSize: schedule.batchSize,
      maxEpochs: schedule.maxEpochs,
      patience: schedule.patience,
      lr0: schedule.lr0,
      lrFloor: schedule.lrFloor,
      t0: schedule.t0,
      minSaveEpoch: schedule.minSaveEpoch,
      maxStepsPerEpoch: schedule.maxStepsPerEpoch,
      seed: spec.seed,
      runDir: dir,
      resume,
      progress: true,
      log,
    });

    const qualitativeIds = [...data.test.ids].sort().slice(0, profile.data[spec.dataset].qualitativeCount);
    const test = await evaluateModel(model, data.test, {
      batchSize: schedule.batchSize,
      textFeatures,
      textShape,
      convention: 'test',
      keepPredictions: qualitativeIds,
    });
    const qualitative = await writeQualitative(dir, data.test, qualitativeIds, test.predictions, ctx.channelOrder);
    const finishedAt = new Date();

    const result: RunResult = {
      schema: 'lvit-bench/run@1',
      runId,
      model: modelKeyOf(spec),
      modelConfig: unetInit ? { ...modelConfig, unetInit } : modelConfig,
      paramCount: model.parameterCount(),
      ...(pretrained ? { pretrained } : {}),
      dataset: spec.dataset,
      labelFraction: spec.labelFraction,
      seed: spec.seed,
      profile: { name: profile.name, reduced: profile.reduced, description: profile.description },
      train: {
        epochsRun: outcome.epochsRun,
        maxEpochs: schedule.maxEpochs,
        batchSize: schedule.batchSize,
        imageSize,
        trainImages: data.train.size,
        labeledImages: train.size,
        earlyStopped: outcome.earlyStopped,
      },
      provenance: {
        backend: ctx.backend.name,
        backendDetail: ctx.backend.detail,
        device: ctx.backend.device,
        gitCommit: ctx.git.commit,
        gitDirty: ctx.git.dirty,
        dataManifestHash: data.manifestHash,
        labelManifest: `${LABELS_FILE}#sha256:${labels.labeledSha256}`,
        textEncoder: entry.usesText ? ctx.text!.info : null,
        node: process.version,
        startedAt: startedAt.toISOString(),
        finishedAt: finishedAt.toISOString(),
        wallTimeSec: (finishedAt.getTime() - startedAt.getTime()) / 1000,
        segments,
        epochTimeSec: outcome.curves.reduce((t, c) => t + c.timeSec, 0),
      },
      val: { bestDice: outcome.bestValDice, bestEpoch: outcome.bestEpoch },
      test: { dice: test.dice, iou: test.iou, n: test.perImage.length, perImage: test.perImage, pooled: test.pooled },
      curves: outcome.curves,
      qualitative,
      ...(stage2 ? { semi: stage2.info } : {}),
    };
    writeJsonAtomic(resultPath, result);
    log(`${runId}: test Dice ${(100 * test.dice).toFixed(2)} IoU ${(100 * test.iou).toFixed(2)} per image; pooled Dice ${(100 * test.pooled.dice).toFixed(2)} IoU ${(100 * test.pooled.iou).toFixed(2)} (n=${test.perImage.length})`);
    return result;
  } finally {
    stage2?.dispose();
    model.dispose();
  }
}

/**
 * The official "LViT_pretrain": copy the same-named weights of the trained U-Net run with the same
 * dataset, label fraction and seed (its best checkpoint) into the new model.
 */
function initFromUNet(model: SegmentationModel, spec: RunSpec, ctx: RunContext, dir: string): { checkpoint: string; copied: number } {
  const unetDir = runDirOf(ctx.runsRoot, ctx.profile.name, { ...spec, model: 'unet', unetInit: false });
  const checkpoint = runPaths(unetDir).best;
  if (!existsSync(checkpoint)) {
    throw new Error(`${runIdOf(ctx.profile.name, spec)}: --unet-init needs the U-Net run of the same dataset, fraction and seed first; ${checkpoint} is missing`);
  }
  const { copied } = copyMatchingWeights(checkpoint, model);
  if (copied.length === 0) throw new Error(`${checkpoint}: no weight matches ${spec.model} by name and shape (different width?)`);
  ctx.log(`${runIdOf(ctx.profile.name, spec)}: initialised ${copied.length} tensors from ${relative(process.cwd(), checkpoint)}`);
  return { checkpoint: relative(dir, checkpoint), copied: copied.length };
}

function requireText(ctx: RunContext, model: string): NonNullable<RunContext['text']> {
  if (!ctx.text) throw new Error(`Model '${model}' needs text features, but no text encoder was opened`);
  return ctx.text;
}


/**
 * The labeled subset of this run, drawn from the run's seed and written next to its result so the
 * result can cite it. A resumed run must find the same subset it started with.
 */
function labelManifestFor(dir: string, spec: RunSpec, data: PreparedDataset): LabelManifest {
  const path = join(dir, LABELS_FILE);
  const drawn = makeLabelManifest(spec.dataset, data.train.ids, spec.labelFraction / 100, spec.seed);
  if (!existsSync(path)) return writeLabelManifest(path, drawn);
  const saved = readLabelManifest(path);
  if (saved.labeledSha256 !== drawn.labeledSha256) {
    throw new Error(`${path}: labeled subset differs from the one drawn now for seed ${spec.seed}; delete the run folder`);
  }
  return saved;
}

/** Image, ground truth and prediction PNGs for the report's qualitative panel. */
async function writeQualitative(
  dir: string,
  split: SegSplit,
  ids: string[],
  predictions: Map<string, Uint8Array>,
  channelOrder: 'bgr' | 'rgb',
): Promise<RunResult['qualitative']> {
  const out: RunResult['qualitative'] = [];
  const { height: h, width: w, channels: c } = split;
  for (const id of ids) {
    const sample = split.sample(split.ids.indexOf(id));
    const pred = predictions.get(id);
    if (!pred) throw new Error(`evaluation kept no prediction for qualitative image ${id}`);
    const stem = id.replace(/\.[^.]+$/, '');
    const files = { image: `qual/${stem}.image.png`, groundTruth: `qual/${stem}.gt.png`, prediction: `qual/${stem}.pred.png` };
    await writePng(join(dir, files.image), toDisplayRgb(sample.image, h * w, c, channelOrder), w, h, 3);
    await writePng(join(dir, files.groundTruth), scaleMask(sample.mask), w, h, 1);
    await writePng(join(dir, files.prediction), scaleMask(pred), w, h, 1);
    out.push({ id, text: sample.text, ...files });
  }
  return out;
}

function toDisplayRgb(image: Float32Array, pixels: number, channels: number, order: 'bgr' | 'rgb'): Uint8Array {
  const rgb = new Uint8Array(pixels * 3);
  for (let p = 0; p < pixels; p++) {
    for (let k = 0; k < 3; k++) {
      const src = channels === 1 ? 0 : order === 'bgr' ? 2 - k : k;
      rgb[p * 3 + k] = Math.round(255 * image[p * channels + src]);
    }
  }
  return rgb;
}

function scaleMask(mask: Uint8Array): Uint8Array {
  return mask.map((v) => (v ? 255 : 0));
}

/** Release tensors a run may have left behind (tidy misses in callbacks would accumulate over a matrix). */
export function reportTensorLeak(before: number, log: (m: string) => void): void {
  const after = tf.memory().numTensors;
  if (after > before) log(`warning: ${after - before} tensors outlived the run`);
}

