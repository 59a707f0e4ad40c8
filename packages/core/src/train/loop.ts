import * as fs from 'node:fs';
import * as path from 'node:path';
import { Rng } from '../rng.js';
import type * as tf from '@tensorflow/tfjs';
import type { EpochRecord, ImageSample, SegmentationModel, SegSplit, UnlabeledSplit } from '../types.js';
import { checkTextInput, disposeBatch, ImageBatch, makeBatch, makeImageBatch, TextInput } from './batch.js';
import {
  captureModelState,
  CheckpointData,
  loadCheckpointSync,
  loadModelState,
  LoopState,
  saveCheckpointSync,
} from './checkpoint.js';
import { writeFileAtomic } from '../io/atomic.js';
import { evaluateModel } from './evaluate.js';
import { Adam } from './optim.js';
import { ProgressReporter } from './progress.js';
import { GeometricAugment, PixelMap, remapPixels } from './pixel-map.js';
import { cosineWarmRestartLr } from './schedule.js';
import { createRunState, LossTerm, RunState, SUPERVISED_TERM } from './state.js';
import { trainStep } from './step.js';

/**
 * The official training loop (LVIT.md §2.1), resumable:
 * - Adam, lr from the warm-restart cosine schedule, stepped once per epoch;
 * - validation Dice in the 'val' convention after every epoch; the best is kept only once the epoch
 *   number exceeds `minSaveEpoch` (official: 5); early stop when epochs since the best > patience
 *   (official `epoch - best_epoch + 1 > 50`, with best_epoch starting at 1);
 * - every random stream (data order, augmentation, dropout, hooks) derives from `seed` and is saved
 *   in the checkpoint written after each epoch, so `resume` continues bit-identically on the same
 *   backend.
 *
 * Run folder: `checkpoint/last`, `checkpoint/best` (single files, see checkpoint.ts) and `log.jsonl`
 * (one EpochRecord per line).
 */

export interface TrainData {
  train: SegSplit;
  val: SegSplit;
  /** Images trained without their masks (only `unlabeled`/`all` loss terms apply to them); the type has no mask access. */
  unlabeled?: UnlabeledSplit;
}

export interface StepEndContext {
  epoch: number;
  /** 1-based index of the step within the epoch. */
  step: number;
  stepsInEpoch: number;
  globalStep: number;
  loss: number;
  terms: Record<string, number>;
  ids: string[];
  labeled: boolean;
  /** Each sample's augmentation this step (null = none). */
  pixelMaps: PixelMap[];
  /** The step's train-mode prediction, [B*H*W] in the augmented frame (read back because an onStepEnd hook is set). */
  prediction: Float32Array;
  state: RunState;
}

export interface EpochEndContext {
  epoch: number;
  record: EpochRecord;
  /** Whether this epoch became the new best checkpoint. */
  isBest: boolean;
  model: SegmentationModel;
  optimizer: Adam;
  state: RunState;
  /** A seeded stream for hook randomness, saved with the checkpoint. */
  rng: Rng;
}

export interface TrainHooks {
  onEpochStart?(ctx: { epoch: number; model: SegmentationModel; state: RunState }): void | Promise<void>;
  onStepEnd?(ctx: StepEndContext): void | Promise<void>;
  /** Runs before the epoch's checkpoint is written, so changes to `state` are saved with it. */
  onEpochEnd?(ctx: EpochEndContext): void | Promise<void>;
}

export interface TrainOptions extends TextInput {
  model: SegmentationModel;
  data: TrainData;
  /**
   * Train-time geometric augmentation of every sample (labeled and unlabeled), drawn from the
   * 'augment' stream and applied to the image and mask alike; loss terms get the same maps for
   * their per-image state. The text is left as it is, as upstream.
   */
  augment?: GeometricAugment;
  batchSize: number;
  /** Validation batch size (default: batchSize). Metrics are per image, so it only changes speed. */
  valBatchSize?: number;
  maxEpochs: number;
  patience: number;
  lr0: number;
  /** eta_min of the schedule (default 1e-4). */
  lrFloor?: number;
  /** Restart period in epochs (default 10). */
  t0?: number;
  /** A best checkpoint is taken only when the 1-based epoch > minSaveEpoch (default 5, as upstream). */
  minSaveEpoch?: number;
  /** Cap on optimizer steps per epoch (smoke runs). */
  maxStepsPerEpoch?: number;
  seed: number;
  runDir: string;
  /** Continue from `runDir/checkpoint/last`; without it an existing checkpoint there is an error. */
  resume?: boolean;
  extraTerms?: LossTerm[];
  hooks?: TrainHooks;
  /** The per-epoch validation (default evaluateModel); a seam for tests that script the val-Dice sequence. */
  evaluate?: typeof evaluateModel;
  /** Initial run state (e.g. pseudo-labels); replaced by the checkpoint's on resume. */
  runState?: RunState;
  progress?: boolean;
  log?: (msg: string) => void;
}

export interface TrainOutcome {
  bestEpoch: number;
  bestValDice: number;
  epochsRun: number;
  earlyStopped: boolean;
  curves: EpochRecord[];
  bestCheckpoint: string;
}

export interface RunPaths {
  last: string;
  best: string;
  log: string;
}

export function runPaths(runDir: string): RunPaths {
  return {
    last: path.join(runDir, 'checkpoint', 'last'),
    best: path.join(runDir, 'checkpoint', 'best'),
    log: path.join(runDir, 'log.jsonl'),
  };
}

const RNG_STREAMS = ['order', 'augment', 'dropout', 'hooks'] as const;
type RngStream = (typeof RNG_STREAMS)[number];
const PER_IMAGE_PREFIX = 'perImage/';
const ARRAY_PREFIX = 'array/';

/** What must not change between a run and its resumption. */
function runFingerprint(o: TrainOptions): Record<string, unknown> {
  return {
    model: o.model.name,
    paramCount: o.model.parameterCount(),
    seed: o.seed,
    batchSize: o.batchSize,
    lr0: o.lr0,
    lrFloor: o.lrFloor ?? 1e-4,
    t0: o.t0 ?? 10,
    train: `${o.data.train.dataset}/${o.data.train.split}/${o.data.train.size}`,
    val: `${o.data.val.dataset}/${o.data.val.split}/${o.data.val.size}`,
    unlabeled: o.data.unlabeled ? `${o.data.unlabeled.dataset}/${o.data.unlabeled.split}/${o.data.unlabeled.size}` : null,
    extraTerms: (o.extraTerms ?? []).map((t) => `${t.name}:${t.weight}:${t.appliesTo}`),
  };
}

function validateOptions(o: TrainOptions): void {
  const fail = (why: string) => {
    throw new Error(`train/loop.ts trainModel: ${why}`);
  };
  if (!Number.isInteger(o.batchSize) || o.batchSize < 1) fail(`batchSize must be a positive integer, got ${o.batchSize}`);
  if (!Number.isInteger(o.maxEpochs) || o.maxEpochs < 1) fail(`maxEpochs must be a positive integer, got ${o.maxEpochs}`);
  if (!(o.patience >= 0)) fail(`patience must be >= 0, got ${o.patience}`);
  if (!(o.lr0 > 0)) fail(`lr0 must be > 0, got ${o.lr0}`);
  if (o.data.train.size === 0) fail('the training split is empty');
  if (o.data.val.size === 0) fail('the validation split is empty');
  checkTextInput(o.model.usesText, o, 'trainModel');
  const names = (o.extraTerms ?? []).map((t) => t.name);
  if (new Set(names).size !== names.length || names.includes(SUPERVISED_TERM)) {
    fail(`extra loss term names must be unique and not '${SUPERVISED_TERM}': ${names.join(', ')}`);
  }
  if (o.data.unlabeled && o.data.unlabeled.size > 0 && !(o.extraTerms ?? []).some((t) => t.appliesTo !== 'labeled')) {
    fail('unlabeled data was given but no loss term applies to unlabeled images');
  }
}

type PlannedBatch = { indices: number[] } & ({ labeled: true; split: SegSplit } | { labeled: false; split: UnlabeledSplit });

function chunk(indices: number[], size: number): number[][] {
  const out: number[][] = [];
  for (let i = 0; i < indices.length; i += size) out.push(indices.slice(i, i + size));
  return out;
}

/** This epoch's batches: shuffled labeled (and unlabeled) batches in a shuffled interleaving. */
function planEpoch(data: TrainData, batchSize: number, order: Rng, maxSteps?: number): PlannedBatch[] {
  const range = (n: number) => Array.from({ length: n }, (_, i) => i);
  const plan: PlannedBatch[] = chunk(order.shuffle(range(data.train.size)), batchSize).map((indices) => ({
    split: data.train,
    indices,
    labeled: true as const,
  }));
  if (data.unlabeled && data.unlabeled.size > 0) {
    const unlabeled = data.unlabeled;
    plan.push(...chunk(order.shuffle(range(unlabeled.size)), batchSize).map((indices) => ({ split: unlabeled, indices, labeled: false as const })));
    order.shuffle(plan);
  }
  return maxSteps !== undefined ? plan.slice(0, maxSteps) : plan;
}

interface LoopContext {
  opts: TrainOptions;
  paths: RunPaths;
  optimizer: Adam;
  rngs: Record<RngStream, Rng>;
  state: RunState;
  loop: LoopState;
  log: (msg: string) => void;
}

function rngStates(rngs: Record<RngStream, Rng>): Record<string, number> {
  return Object.fromEntries(RNG_STREAMS.map((k) => [k, rngs[k].getState()]));
}

function lastCheckpoint(ctx: LoopContext): CheckpointData {
  const blobs: Record<string, Float32Array> = {};
  for (const [id, arr] of ctx.state.perImage) blobs[PER_IMAGE_PREFIX + id] = arr;
  for (const [name, arr] of ctx.state.arrays) blobs[ARRAY_PREFIX + name] = arr;
  return {
    model: captureModelState(ctx.opts.model),
    optimizer: ctx.optimizer.getState(),
    loop: { ...ctx.loop, rng: rngStates(ctx.rngs) },
    extra: { fingerprint: runFingerprint(ctx.opts), runState: { globalStep: ctx.state.globalStep, extra: ctx.state.extra } },
    blobs,
  };
}

function restoreFromLast(ctx: LoopContext, ckpt: CheckpointData): void {
  const saved = ckpt.extra?.fingerprint;
  const now = runFingerprint(ctx.opts);
  if (JSON.stringify(saved) !== JSON.stringify(now)) {
    throw new Error(`train/loop.ts: cannot resume '${ctx.paths.last}': it was written by a different run (${JSON.stringify(saved)} vs ${JSON.stringify(now)})`);
  }
  if (!ckpt.loop || !ckpt.optimizer) throw new Error(`train/loop.ts: '${ctx.paths.last}' lacks loop or optimizer state`);
  loadModelState(ctx.opts.model, ckpt.model, { strict: true });
  ctx.optimizer.setState(ckpt.optimizer);
  ctx.loop = { ...ckpt.loop, curves: [...ckpt.loop.curves] };
  for (const k of RNG_STREAMS) ctx.rngs[k].setState(ckpt.loop.rng[k]);
  const runState = ckpt.extra?.runState as { globalStep: number; extra: Record<string, unknown> };
  ctx.state.epoch = ckpt.loop.epoch;
  ctx.state.globalStep = runState.globalStep;
  ctx.state.extra = runState.extra;
  ctx.state.perImage = new Map();
  ctx.state.arrays = new Map();
  for (const [name, arr] of Object.entries(ckpt.blobs ?? {})) {
    if (name.startsWith(PER_IMAGE_PREFIX)) ctx.state.perImage.set(name.slice(PER_IMAGE_PREFIX.length), arr as Float32Array);
    if (name.startsWith(ARRAY_PREFIX)) ctx.state.arrays.set(name.slice(ARRAY_PREFIX.length), arr as Float32Array);
  }
}

function rewriteLog(file: string, curves: EpochRecord[]): void {
  const text = curves.map((r) => JSON.stringify(r) + '\n').join('');
  writeFileAtomic(file, text);
}

/**
 * One planned batch, augmented: each sample gets one draw from the 'augment' stream, applied to its
 * image and (labeled only) mask. Unlabeled samples come from `image()`: their masks are never read.
 */
function augmentedBatch(ctx: LoopContext, planned: PlannedBatch): { batch: ImageBatch; masks: tf.Tensor4D | null; pixelMaps: PixelMap[] } {
  const { opts, rngs } = ctx;
  const { split } = planned;
  const pixelMaps = planned.indices.map(() => (opts.augment ? opts.augment(split.height, split.width, rngs.augment) : null));
  const moveImage = (s: ImageSample, i: number): ImageSample => ({ ...s, image: remapPixels(s.image, pixelMaps[i], split.channels) });
  if (planned.labeled) {
    const samples = planned.indices.map((index, i) => {
      const s = planned.split.sample(index);
      return { ...moveImage(s, i), mask: remapPixels(s.mask, pixelMaps[i], 1) };
    });
    const batch = makeBatch(samples, split, opts.model.usesText, opts);
    return { batch, masks: batch.masks, pixelMaps };
  }
  const samples = planned.indices.map((index, i) => moveImage(planned.split.image(index), i));
  return { batch: makeImageBatch(samples, split, opts.model.usesText, opts), masks: null, pixelMaps };
}

/** Train one epoch; returns the image-weighted mean loss and mean of each term. */
async function trainEpoch(ctx: LoopContext, epoch: number, progress: ProgressReporter): Promise<{ loss: number; terms: Record<string, number> }> {
  const { opts, rngs, state } = ctx;
  const plan = planEpoch(opts.data, opts.batchSize, rngs.order, opts.maxStepsPerEpoch);
  let lossSum = 0;
  let images = 0;
  const termSums: Record<string, { sum: number; n: number }> = {};
  progress.startEpoch();
  for (let s = 0; s < plan.length; s++) {
    const planned = plan[s];
    const { labeled } = planned;
    const { batch, masks, pixelMaps } = augmentedBatch(ctx, planned);
    let result;
    try {
      result = trainStep({
        model: opts.model,
        optimizer: ctx.optimizer,
        images: batch.images,
        masks,
        text: batch.text,
        rng: rngs.dropout,
        extraTerms: opts.extraTerms,
        batchInfo: { ids: batch.ids, labeled, pixelMaps, state },
        keepPrediction: opts.hooks?.onStepEnd !== undefined,
      });
    } finally {
      disposeBatch(batch);
    }
    const n = batch.ids.length;
    state.globalStep += 1;
    lossSum += result.loss * n;
    images += n;
    for (const [name, v] of Object.entries(result.terms)) {
      const t = (termSums[name] ??= { sum: 0, n: 0 });
      t.sum += v * n;
      t.n += n;
    }
    progress.update(epoch, s + 1, plan.length, lossSum / images);
    await opts.hooks?.onStepEnd?.({
      epoch,
      step: s + 1,
      stepsInEpoch: plan.length,
      globalStep: state.globalStep,
      loss: result.loss,
      terms: result.terms,
      ids: batch.ids,
      labeled,
      pixelMaps,
      prediction: result.prediction!,
      state,
    });
  }
  progress.finish();
  const terms = Object.fromEntries(Object.entries(termSums).map(([k, t]) => [k, t.sum / t.n]));
  return { loss: images ? lossSum / images : NaN, terms };
}

/** Train with validation, checkpoints, early stopping and exact resume; restores the best weights. */
export async function trainModel(opts: TrainOptions): Promise<TrainOutcome> {
  validateOptions(opts);
  const log = opts.log ?? ((msg: string) => process.stderr.write(msg + '\n'));
  const paths = runPaths(opts.runDir);
  const lrFloor = opts.lrFloor ?? 1e-4;
  const t0 = opts.t0 ?? 10;
  const minSaveEpoch = opts.minSaveEpoch ?? 5;
  const ctx: LoopContext = {
    opts,
    paths,
    optimizer: new Adam(opts.model.namedParameters(), { lr: opts.lr0 }),
    rngs: Object.fromEntries(RNG_STREAMS.map((k) => [k, Rng.derive(opts.seed, k)])) as Record<RngStream, Rng>,
    state: opts.runState ?? createRunState(),
    loop: {
      epoch: 0,
      bestValDice: 0,
      bestEpoch: 0,
      epochsWithoutImprovement: 0,
      rng: {},
      curves: [],
      globalStep: 0,
      finished: false,
      earlyStopped: false,
    },
    log,
  };

  try {
    fs.mkdirSync(path.dirname(paths.last), { recursive: true });
    if (fs.existsSync(paths.last)) {
      if (!opts.resume) {
        throw new Error(`train/loop.ts: '${paths.last}' exists; pass resume: true to continue it, or use a fresh runDir`);
      }
      restoreFromLast(ctx, loadCheckpointSync(paths.last));
      log(`resumed from ${paths.last} after epoch ${ctx.loop.epoch}`);
    } else if (opts.resume) {
      log(`no checkpoint in ${opts.runDir}; starting a new run`);
    }
    rewriteLog(paths.log, ctx.loop.curves);

    const progress = new ProgressReporter(opts.progress ?? false, log);
    for (let e = ctx.loop.epoch; e < opts.maxEpochs && !ctx.loop.earlyStopped; e++) {
      const epoch = e + 1;
      const started = Date.now();
      ctx.state.epoch = epoch;
      ctx.optimizer.lr = cosineWarmRestartLr(e, opts.lr0, { t0, floor: lrFloor });
      await opts.hooks?.onEpochStart?.({ epoch, model: opts.model, state: ctx.state });

      const train = await trainEpoch(ctx, epoch, progress);
      const val = await (opts.evaluate ?? evaluateModel)(opts.model, opts.data.val, {
        batchSize: opts.valBatchSize ?? opts.batchSize,
        convention: 'val',
        withLoss: true,
        textFeatures: opts.textFeatures,
        textShape: opts.textShape,
      });
      const record: EpochRecord = {
        epoch,
        trainLoss: train.loss,
        valLoss: val.loss,
        valDice: val.dice,
        valIoU: val.iou,
        lr: ctx.optimizer.lr,
        timeSec: (Date.now() - started) / 1000,
        terms: train.terms,
      };

      // Official selection: strictly better mean val Dice, and only after `minSaveEpoch` epochs.
      const isBest = val.dice > ctx.loop.bestValDice && epoch > minSaveEpoch;
      if (isBest) {
        ctx.loop.bestValDice = val.dice;
        ctx.loop.bestEpoch = epoch;
      }
      ctx.loop.epochsWithoutImprovement = epoch - Math.max(ctx.loop.bestEpoch, 1);
      ctx.loop.earlyStopped = ctx.loop.epochsWithoutImprovement > opts.patience;
      ctx.loop.epoch = epoch;
      ctx.loop.finished = ctx.loop.earlyStopped || epoch >= opts.maxEpochs;
      ctx.loop.globalStep = ctx.state.globalStep;
      ctx.loop.curves.push(record);
      await opts.hooks?.onEpochEnd?.({ epoch, record, isBest, model: opts.model, optimizer: ctx.optimizer, state: ctx.state, rng: ctx.rngs.hooks });

      if (isBest) saveCheckpointSync(paths.best, bestCheckpoint(ctx));
      saveCheckpointSync(paths.last, lastCheckpoint(ctx));
      fs.appendFileSync(paths.log, JSON.stringify(record) + '\n');
      log(
        `epoch ${epoch}/${opts.maxEpochs} loss ${record.trainLoss.toFixed(4)} val loss ${record.valLoss?.toFixed(4)} ` +
          `dice ${record.valDice.toFixed(4)} iou ${record.valIoU.toFixed(4)} lr ${record.lr.toExponential(3)} ` +
          `${record.timeSec.toFixed(1)}s${isBest ? ' (best)' : ''}` +
          (ctx.loop.earlyStopped ? ` early stop: ${ctx.loop.epochsWithoutImprovement} epochs without improvement` : ''),
      );
    }
    return finish(ctx);
  } finally {
    ctx.optimizer.dispose();
  }
}

function bestCheckpoint(ctx: LoopContext): CheckpointData {
  return {
    model: captureModelState(ctx.opts.model),
    loop: { ...ctx.loop, rng: rngStates(ctx.rngs) },
    extra: { fingerprint: runFingerprint(ctx.opts) },
  };
}

/** Restore the best weights (or, if no epoch qualified, keep the last ones as "best"). */
function finish(ctx: LoopContext): TrainOutcome {
  const { loop, paths } = ctx;
  let bestEpoch = loop.bestEpoch;
  let bestValDice = loop.bestValDice;
  if (bestEpoch === 0) {
    const last = loop.curves[loop.curves.length - 1];
    bestEpoch = last?.epoch ?? 0;
    bestValDice = last?.valDice ?? 0;
    ctx.log(`no epoch qualified as best (minSaveEpoch ${ctx.opts.minSaveEpoch ?? 5}); saving the last weights as ${paths.best}`);
    saveCheckpointSync(paths.best, bestCheckpoint(ctx));
  } else {
    loadModelState(ctx.opts.model, loadCheckpointSync(paths.best).model, { strict: true });
  }
  return {
    bestEpoch,
    bestValDice,
    epochsRun: loop.epoch,
    earlyStopped: loop.earlyStopped,
    curves: loop.curves,
    bestCheckpoint: paths.best,
  };
}
