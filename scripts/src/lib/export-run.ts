/** `lvit export`: a finished run's best checkpoint as a self-describing ONNX inference file. */
import * as tf from '@tensorflow/tfjs';
import { existsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import {
  createModel,
  exportModelToOnnx,
  getModelEntry,
  IMAGE_NORMALISATION,
  loadCheckpointSync,
  loadModelState,
  ONNX_MODEL_FORMAT,
  ONNXRUNTIME_BACKEND_NAME,
  registerOnnxruntimeBackend,
  Rng,
  runPaths,
  writeFileAtomic,
  writeJsonAtomic,
  type OnnxModelInfo,
  type TraceOutcome,
  type RunResult,
} from '@lvit-bench/core';
import '@lvit-bench/baselines';
import { groupRuns, loadRuns, MODEL_FILE, modelFileOf, publishedSeedOf, textFeaturesFileOf, type BundledTextFeatures } from '@lvit-bench/report';
import { trainedTextFeatures } from './text-features.js';
import { CHANNEL_ORDER, readResult, RESULT_FILE } from './run.js';

export const ONNX_FILE = MODEL_FILE;

export interface ExportOutcome {
  file: string;
  /** LViT-T: the test images' sentence features written next to it (for the report's page), if any. */
  textFile: string | null;
  info: OnnxModelInfo;
  bytes: number;
  /** Kernel graphs in the traced forward. */
  kernels: number;
}

/** The registered architecture of a result's model key ('lvit-t+epi+lv' -> 'lvit-t', 'lvit-t+unet-init' -> 'lvit-t'). */
export function baseModelOf(result: RunResult): string {
  return result.semi?.baseModel ?? result.model.split('+')[0];
}

/** What the exported file says about itself, from the run's result. */
export function onnxInfoOf(result: RunResult): OnnxModelInfo {
  const model = baseModelOf(result);
  const { unetInit: _unetInit, ...modelConfig } = result.modelConfig;
  const usesText = getModelEntry(model).usesText;
  const textShape: [number, number] | null = usesText ? [Number(modelConfig.textTokens), Number(modelConfig.textDim)] : null;
  const size = result.train.imageSize;
  return {
    format: ONNX_MODEL_FORMAT,
    model,
    modelKey: result.model,
    modelConfig,
    inputShape: [size, size, Number(modelConfig.inChannels ?? 3)],
    channelOrder: CHANNEL_ORDER,
    normalisation: IMAGE_NORMALISATION,
    textEncoder: usesText ? result.provenance.textEncoder : null,
    textShape,
    runId: result.runId,
    dataset: result.dataset,
    labelFraction: result.labelFraction,
    seed: result.seed,
    checkpointEpoch: result.val.bestEpoch || null,
    dataManifestHash: result.provenance.dataManifestHash,
    gitCommit: result.provenance.gitCommit,
    gitDirty: result.provenance.gitDirty,
  };
}

/** Where text features come from when a text model is exported (the run's encoder and cache). */
export interface ExportTextOptions {
  cacheDir: string;
  log: (m: string) => void;
}

/**
 * Exports the best checkpoint of the finished run in `runDir` to `out` (default RUN_DIR/model.onnx).
 * Needs the onnxruntime backend active (the trace runs its kernels). With `text`, a text model also
 * gets its run's qualitative test sentences as features (models.ts BundledTextFeatures).
 */
export async function exportRun(runDir: string, out = join(runDir, ONNX_FILE), text?: ExportTextOptions): Promise<ExportOutcome> {
  const resultPath = join(runDir, RESULT_FILE);
  const read = readResult(resultPath);
  if (read.status === 'missing') throw new Error(`${resultPath}: no result file; export needs a finished run`);
  if (read.status === 'invalid') throw new Error(read.reason);
  const result = read.result;
  const best = runPaths(runDir).best;
  if (!existsSync(best)) throw new Error(`${best}: the run has no best checkpoint to export`);
  const info = onnxInfoOf(result);
  if (info.textShape && !info.textEncoder) throw new Error(`${resultPath}: ${info.model} reads text but the result names no text encoder`);
  const traced = traceRun(result, info, best);
  writeFileAtomic(out, traced.bytes);
  const textFile = text && info.textShape && result.qualitative.length > 0 ? await writeTextFeatures(result, info, out, text) : null;
  return { file: out, textFile, info, bytes: traced.bytes.length, kernels: traced.kernels };
}

function traceRun(result: RunResult, info: OnnxModelInfo, best: string): TraceOutcome {
  const model = createModel(info.model, { ...info.modelConfig, seed: result.seed });
  try {
    loadModelState(model, loadCheckpointSync(best).model);
    // The trace inputs' values do not matter (the graph has no data-dependent branches).
    const rng = new Rng(0);
    const [h, w, c] = info.inputShape;
    const image = tf.tensor4d(new Float32Array(h * w * c).map(() => rng.next()), [1, h, w, c]);
    const text = info.textShape ? tf.tensor3d(new Float32Array(info.textShape[0] * info.textShape[1]).map(() => rng.normal()), [1, ...info.textShape]) : null;
    try {
      return exportModelToOnnx(model, info, image, text);
    } finally {
      tf.dispose([image, ...(text ? [text] : [])]);
    }
  } finally {
    model.dispose();
  }
}

async function writeTextFeatures(result: RunResult, info: OnnxModelInfo, modelFile: string, opts: ExportTextOptions): Promise<string> {
  const lookup = await trainedTextFeatures(result.qualitative.map((q) => q.text), info, modelFile, opts);
  const bundle: BundledTextFeatures = {
    format: 'lvit-bench/text-features@1',
    encoder: info.textEncoder!.name,
    shape: info.textShape!,
    sentences: result.qualitative.map((q) => {
      const f = lookup(q.text);
      return { id: q.id, text: q.text, features: Buffer.from(f.buffer, f.byteOffset, f.byteLength).toString('base64') };
    }),
  };
  const file = textFeaturesFileOf(modelFile);
  writeJsonAtomic(file, bundle);
  return file;
}

/** Runs `fn` on the onnxruntime backend (the trace needs its kernels), then returns to the active one. */
export async function onOnnxruntimeBackend<T>(fn: () => Promise<T>): Promise<T> {
  const previous = tf.getBackend();
  if (previous === ONNXRUNTIME_BACKEND_NAME) return await fn();
  const probe = await registerOnnxruntimeBackend();
  if (!probe.ok) throw new Error(`export needs the onnxruntime backend: ${probe.reason}`);
  await tf.setBackend(ONNXRUNTIME_BACKEND_NAME);
  try {
    return await fn();
  } finally {
    // No backend yet (a process that only exports, as `lvit report`): stay on onnxruntime.
    if (previous) await tf.setBackend(previous);
  }
}

/**
 * After a matrix (or before `lvit report` on merged runs folders): the model each report row publishes (the seed with the best validation Dice,
 * report/models.ts) is exported to its run folder unless an export newer than its best checkpoint
 * is there. Returns the runs whose export failed (with why); the others are written.
 */
export async function exportPublishedSeeds(runsRoots: string | readonly string[], profile: string | undefined, text: ExportTextOptions): Promise<string[]> {
  const { log } = text;
  const failed: string[] = [];
  for (const members of groupRuns(loadRuns(runsRoots, { profile }).runs).values()) {
    const run = publishedSeedOf(members);
    const dir = dirname(run.file);
    const file = modelFileOf(run);
    const best = runPaths(dir).best;
    if (existsSync(file) && existsSync(best) && statSync(file).mtimeMs >= statSync(best).mtimeMs) continue;
    try {
      const outcome = await onOnnxruntimeBackend(() => exportRun(dir, file, text));
      log(`${run.result.runId}: exported ${MODEL_FILE} (${(outcome.bytes / 2 ** 20).toFixed(1)} MiB; best validation Dice of ${members.length} seed(s))`);
    } catch (err) {
      failed.push(`${run.result.runId}: ${(err as Error).message}`);
    }
  }
  return failed;
}
