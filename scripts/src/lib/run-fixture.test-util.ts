/**
 * A finished run folder for export/predict tests: result.json and checkpoint/best of a small model
 * whose weights are its seeded init with every BatchNorm's running statistics moved off (0, 1), so
 * the eval-mode forward really uses them.
 */
import * as tf from '@tensorflow/tfjs';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { captureModelState, createModel, getModelEntry, loadCheckpointSync, loadModelState, Rng, runPaths, saveCheckpointSync, writeJsonAtomic, type RunResult, type TextEncoderInfo } from '@lvit-bench/core';
import '@lvit-bench/baselines';
import { RESULT_FILE } from './run.js';

export const FIXTURE_SIZE = 32;
export const FIXTURE_TEXT_ENCODER: TextEncoderInfo = { name: 'tiny-random-bert', dim: 32, pretrained: false, substitute: true, description: 'test encoder' };

/** Small configs of every exportable model at FIXTURE_SIZE. */
export const FIXTURE_CONFIGS: Record<string, Record<string, unknown>> = {
  unet: { baseChannels: 8 },
  'lvit-t': { baseChannels: 8, tokenGrid: 2, heads: 2, textTokens: 10, textDim: FIXTURE_TEXT_ENCODER.dim },
  'lvit-tw': { baseChannels: 8, tokenGrid: 2, heads: 2 },
  transunet: { widthFactor: 0.5, hiddenSize: 32, numLayers: 2, numHeads: 4, mlpDim: 64, headChannels: 32, decoderChannels: [32, 16, 8, 8] },
};

export function writeFinishedRun(dir: string, model: string, seed = 5, overrides: Record<string, unknown> = {}): RunResult {
  const modelConfig = { ...FIXTURE_CONFIGS[model], imageSize: FIXTURE_SIZE, ...overrides };
  const m = createModel(model, { ...modelConfig, seed });
  const state = captureModelState(m);
  m.dispose();
  const rng = new Rng(seed);
  for (const [name, t] of Object.entries(state)) {
    if (name.endsWith('running_mean')) t.data = t.data.map(() => 0.2 * rng.normal());
    if (name.endsWith('running_var')) t.data = t.data.map(() => 0.5 + rng.next());
  }
  mkdirSync(join(dir, 'checkpoint'), { recursive: true });
  saveCheckpointSync(runPaths(dir).best, { model: state });
  const usesText = getModelEntry(model).usesText;
  const result: RunResult = {
    schema: 'lvit-bench/run@1',
    runId: `test/monuseg/${model}/f100/s${seed}`,
    model,
    modelConfig,
    paramCount: 0,
    dataset: 'monuseg',
    labelFraction: 100,
    seed,
    profile: { name: 'test', reduced: true, description: 'export test' },
    train: { epochsRun: 7, maxEpochs: 7, batchSize: 2, imageSize: FIXTURE_SIZE, trainImages: 2, labeledImages: 2, earlyStopped: false },
    provenance: {
      backend: 'cpu',
      backendDetail: 'test',
      device: 'test',
      gitCommit: 'c0ffee',
      gitDirty: false,
      dataManifestHash: 'sha256:test-manifest',
      labelManifest: 'labels.json',
      textEncoder: usesText ? FIXTURE_TEXT_ENCODER : null,
      node: process.version,
      startedAt: '2026-01-01T00:00:00.000Z',
      finishedAt: '2026-01-01T00:01:00.000Z',
      wallTimeSec: 60,
    },
    val: { bestDice: 0.5, bestEpoch: 6 },
    test: { dice: 0.5, iou: 0.4, n: 0, perImage: [] },
    curves: [],
    qualitative: [],
  };
  writeJsonAtomic(join(dir, RESULT_FILE), result);
  return result;
}

/** The run's best checkpoint as a tfjs model on the active backend: eval-mode probabilities of one image (and text). */
export function tfjsForwardOfRun(dir: string, result: RunResult): { forward: (image: tf.Tensor4D, text: tf.Tensor3D | null) => Float32Array; dispose: () => void } {
  const model = createModel(result.model, { ...result.modelConfig, seed: result.seed });
  loadModelState(model, loadCheckpointSync(runPaths(dir).best).model);
  return {
    forward: (image, text) => {
      const out = tf.tidy(() => model.forward(image, text, { training: false }));
      const data = Float32Array.from(out.dataSync() as Float32Array);
      out.dispose();
      return data;
    },
    dispose: () => model.dispose(),
  };
}
