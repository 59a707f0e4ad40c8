/**
 * The reproduce pipeline behind `turbo run reproduce [-- --profile smoke|quick|paper]`: run the
 * experiment matrix of a profile (model x dataset x label fraction x seed), write one result.json
 * per run under runs/<profile>/, then build the HTML report into site/. Completed runs are skipped;
 * interrupted ones continue from their last checkpoint (`--restart` discards them).
 */
import * as tf from '@tensorflow/tfjs';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { getModelEntry, initBackend, parseBackendRequest } from '@lvit-bench/core';
import '@lvit-bench/baselines';
import { buildTextFeatureLookup, loadContrastiveLabels, loadDataset, openTextEncoder, resolveCacheDir, resolveDataRoot } from '@lvit-bench/datasets';
import { buildReport } from '@lvit-bench/report';
import { intListFlag, listFlag, parseFlags, stringFlag } from './args.js';
import { gitState, repoRoot } from './repo.js';
import { profileFromTurboAncestor } from './turbo-profile.js';
import { reportTensorLeak, RunContext, runExperiment, runIdOf, RunSpec } from './experiment.js';
import { getProfile, ProfileConfig } from '../configs/profiles.js';
import type { DatasetName } from '../configs/base.js';
import { LV_BANK, semiVariantOf } from '../configs/semi.js';
import { prototypeSpec } from './semi.js';

const FLAGS = {
  profile: 'string',
  models: 'string',
  datasets: 'string',
  fractions: 'string',
  seeds: 'string',
  backend: 'string',
  'data-root': 'string',
  'cache-dir': 'string',
  'runs-dir': 'string',
  'site-dir': 'string',
  resume: 'boolean',
  restart: 'boolean',
  'unet-init': 'boolean',
  'transunet-weights': 'string',
  'no-report': 'boolean',
  help: 'boolean',
} as const;

const USAGE = `Usage: npx turbo run reproduce -- [flags]   (or: node scripts/dist/reproduce.js [flags])
  --profile smoke|quick|paper   experiment matrix and fidelity (default quick; env LVIT_PROFILE)
  --models a,b --datasets a,b --fractions 25,50 --seeds 1,2   run a sub-matrix
  --backend auto|tensorflow|webgpu|onnxruntime|wasm|cpu        (default auto)
  --data-root DIR (env LVIT_DATA_ROOT)  --cache-dir DIR (env LVIT_CACHE_DIR)
  --runs-dir DIR (default runs/)  --site-dir DIR (default site/)
  --restart  discard interrupted runs and train them from scratch (by default they continue from
             their last checkpoint; --resume, the old spelling of that default, is accepted)
  --unet-init  LViT models start from the trained U-Net of the same dataset/fraction/seed (the official
               "pretrain"; results are named lvit-t+unet-init); the U-Net runs first
  --transunet-weights PATH  TransUNet's encoder starts from the ImageNet-21k R50+ViT-B_16.npz at PATH
               (the paper's setting; results are named transunet+in21k; the file fits the paper
               profile's full-size config); default: from scratch
  --no-report  skip building the HTML report`;

/** Run the matrix selected by `argv` (the CLI flags above). Returns what ran, was skipped or failed. */
export async function reproduce(
  argv: string[],
  log: (msg: string) => void = (msg) => console.log(`[reproduce] ${msg}`),
): Promise<{ ran: number; skipped: number; failed: number }> {
  const flags = parseFlags(argv, FLAGS);
  const counts = { ran: 0, skipped: 0, failed: 0 };
  if (flags.help) {
    console.log(USAGE);
    return counts;
  }
  const root = repoRoot();
  const profile = getProfile(
    stringFlag(flags, 'profile') ?? process.env.LVIT_PROFILE ?? profileFromTurboAncestor() ?? 'quick',
  );
  const matrix = selectMatrix(profile, flags);
  log(`profile ${profile.name}${profile.reduced ? ' (REDUCED compute)' : ''}: ${matrix.length} runs`);

  const runsRoot = resolve(stringFlag(flags, 'runs-dir') ?? join(root, 'runs'));
  checkWritable(runsRoot);
  const backend = await initBackend(parseBackendRequest(stringFlag(flags, 'backend') ?? 'auto'), { log });
  const dataRoot = resolveDataRoot(stringFlag(flags, 'data-root'));
  const cacheDir = resolveCacheDir(stringFlag(flags, 'cache-dir'));
  const git = gitState(root);
  if (git.dirty) log('warning: the work tree has uncommitted changes; results record the commit with gitDirty=true');

  for (const dataset of unique(matrix.map((s) => s.dataset))) {
    const specs = matrix.filter((s) => s.dataset === dataset);
    const ctx = await datasetContext(profile, dataset, specs, { dataRoot, cacheDir, runsRoot, backend, git, log, restart: flags.restart === true });
    for (const spec of specs) {
      const tensorsBefore = tf.memory().numTensors;
      try {
        const outcome = await runExperiment(spec, ctx);
        counts[outcome === 'skipped' ? 'skipped' : 'ran']++;
      } catch (err) {
        counts.failed++;
        log(`FAILED ${runIdOf(profile.name, spec)}: ${(err as Error).stack ?? err}`);
      }
      reportTensorLeak(tensorsBefore, log);
    }
  }

  if (flags['no-report'] !== true) {
    const outDir = resolve(stringFlag(flags, 'site-dir') ?? join(root, 'site'));
    const report = await buildReport({ runsDir: runsRoot, outDir, profile: profile.name });
    log(`report written to ${report.indexHtml}`);
  }
  if (counts.failed > 0) throw new Error(`${counts.failed} run(s) failed; completed runs are kept, re-run to retry the rest`);
  return counts;
}

/** Load (or read from cache) one dataset and its text features for every run that needs it. */
async function datasetContext(
  profile: ProfileConfig,
  dataset: DatasetName,
  specs: RunSpec[],
  env: Omit<RunContext, 'profile' | 'data' | 'channelOrder' | 'text' | 'contrastiveLabels'> & { dataRoot: string; cacheDir: string },
): Promise<RunContext> {
  const { log } = env;
  const dataConfig = profile.data[dataset];
  const channelOrder = 'bgr' as const; // cv2.imread order, as the official loader
  const data = await loadDataset({
    dataset,
    root: join(env.dataRoot, dataset),
    imageSize: dataConfig.imageSize,
    cacheDir: env.cacheDir,
    channelOrder,
    limits: dataConfig.limits,
    limitSeed: 666,
    onProgress: progressLogger(`preparing ${dataset}`, log),
  });
  log(`${dataset}: train ${data.train.size}, val ${data.val.size}, test ${data.test.size} at ${dataConfig.imageSize}px`);
  for (const note of data.notes) log(`${dataset}: note: ${note}`);

  // LViT's published contrastive labels, when an LV-loss run of this dataset uses them.
  const needsBank = LV_BANK[dataset] === 'official-contrastive-labels' && specs.some((s) => semiVariantOf(s.model)?.lv);
  const contrastiveLabels = needsBank ? await loadContrastiveLabels(join(env.dataRoot, dataset, 'lv_loss'), dataConfig.imageSize) : null;
  if (contrastiveLabels) log(`${dataset}: ${contrastiveLabels.length} LV-loss contrastive labels`);

  let text: RunContext['text'] = null;
  if (specs.some((s) => getModelEntry(semiVariantOf(s.model)?.base ?? s.model).usesText)) {
    const texts = [data.train, data.val, data.test].flatMap((split) => split.ids.map((_, i) => split.text(i)));
    texts.push(...(contrastiveLabels ?? []).map((l) => l.text));
    text = await buildTextFeatureLookup(texts, () => openTextEncoder(profile.textEncoder, { cacheDir: env.cacheDir, log }), {
      cacheDir: env.cacheDir,
    });
    log(`text features: ${text.info.name} (${text.info.dim}-d${text.info.substitute ? ', SUBSTITUTE for BERT-base' : ''})`);
  }
  return { ...env, profile, data, channelOrder, text, contrastiveLabels };
}

function selectMatrix(profile: ProfileConfig, flags: ReturnType<typeof parseFlags>): RunSpec[] {
  const pick = <T extends string | number>(all: T[], chosen: string[] | undefined, parse: (s: string) => T): T[] => {
    if (!chosen) return all;
    const wanted = chosen.map(parse);
    const unknown = wanted.filter((w) => !all.includes(w));
    if (unknown.length) throw new Error(`Not in profile '${profile.name}': ${unknown.join(', ')} (has ${all.join(', ')})`);
    return wanted;
  };
  const semiModels = unique(profile.datasets.flatMap((d) => Object.values(profile.semiModels[d]).flat()));
  const models = pick([...profile.models, ...semiModels], listFlag(flags, 'models'), String);
  const datasets = pick(profile.datasets, listFlag(flags, 'datasets'), (s) => s as DatasetName);
  const fractions = pick(profile.fractions, intListFlag(flags, 'fractions')?.map(String), Number);
  const seedsFlag = intListFlag(flags, 'seeds');
  const unetInit = flags['unet-init'] === true;
  const transunetWeights = transunetWeightsFlag(flags, models);
  const specs: RunSpec[] = [];
  const add = (spec: RunSpec) => {
    if (!specs.some((s) => runIdOf(profile.name, s) === runIdOf(profile.name, spec))) specs.push(spec);
  };
  for (const dataset of datasets)
    for (const labelFraction of fractions)
      for (const seed of seedsFlag ?? profile.seeds[dataset]) {
        const cell = { dataset, labelFraction, seed };
        for (const model of models.filter((m) => profile.models.includes(m))) add({ ...cell, model, unetInit: unetInit && model.startsWith('lvit'), ...(model === 'transunet' && transunetWeights ? { transunetWeights } : {}) });
        // Semi-supervised variants after the supervised runs: each needs its prototype, added if not selected.
        const semi = models.filter((m) => (profile.semiModels[dataset][labelFraction] ?? []).includes(m));
        for (const model of semi) add(prototypeSpec({ ...cell, model }, semiVariantOf(model)!));
        for (const model of semi) add({ ...cell, model });
      }
  return specs;
}

/** `--transunet-weights PATH`, checked before any work: the file exists and a TransUNet run is selected. */
function transunetWeightsFlag(flags: ReturnType<typeof parseFlags>, models: string[]): string | undefined {
  const path = stringFlag(flags, 'transunet-weights');
  if (path === undefined) return undefined;
  const abs = resolve(path);
  if (!existsSync(abs)) throw new Error(`--transunet-weights: ${abs} does not exist (the ImageNet-21k R50+ViT-B_16.npz)`);
  if (!models.includes('transunet')) throw new Error(`--transunet-weights: no TransUNet run is selected (models: ${models.join(', ')})`);
  return abs;
}

/** Fail before any work when results could not be written (a read-only or misplaced runs folder). */
function checkWritable(runsRoot: string): void {
  try {
    mkdirSync(runsRoot, { recursive: true });
    const probe = join(runsRoot, `.write-test-${process.pid}`);
    writeFileSync(probe, '');
    rmSync(probe);
  } catch (err) {
    throw new Error(`The runs folder ${runsRoot} is not writable (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); pass --runs-dir DIR`);
  }
}

function progressLogger(what: string, log: (m: string) => void): (done: number, total: number) => void {
  let last = 0;
  return (done, total) => {
    const now = Date.now();
    if (done === total || now - last > 5000) {
      last = now;
      log(`${what}: ${done}/${total}`);
    }
  };
}

function unique<T>(xs: T[]): T[] {
  return [...new Set(xs)];
}
