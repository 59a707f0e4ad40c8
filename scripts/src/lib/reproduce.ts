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
import {
  buildTextFeatureLookup,
  DATA_LAYOUTS,
  findContrastiveLabelsDir,
  findDatasetSource,
  loadContrastiveLabels,
  loadDataset,
  openTextEncoder,
  resolveCacheDir,
  resolveDataRoot,
  type DataLayout,
} from '@lvit-bench/datasets';
import { buildReport } from '@lvit-bench/report';
import { type Flags, intListFlag, listFlag, parseFlags, stringFlag } from './args.js';
import { gitState, repoRoot } from './repo.js';
import { CHANNEL_ORDER } from './run.js';
import { progressLogger } from './progress.js';
import { exportPublishedSeeds } from './export-run.js';
import { profileFromTurboAncestor } from './turbo-profile.js';
import { reportTensorLeak, RunContext, runExperiment, runIdOf, RunSpec } from './experiment.js';
import { getProfile, ProfileConfig } from '../configs/profiles.js';
import type { DatasetName } from '../configs/base.js';
import { LV_BANK, semiVariantOf } from '../configs/semi.js';
import { prototypeSpec } from './semi.js';
import { dependenciesOf, parseShard, selectShard, type Shard } from './shard.js';

const FLAGS = {
  profile: 'string',
  models: 'string',
  datasets: 'string',
  fractions: 'string',
  seeds: 'string',
  backend: 'string',
  'data-root': 'string',
  layout: 'string',
  'strict-masks': 'boolean',
  'cache-dir': 'string',
  'runs-dir': 'string',
  'site-dir': 'string',
  resume: 'boolean',
  restart: 'boolean',
  'unet-init': 'boolean',
  'transunet-weights': 'string',
  'no-report': 'boolean',
  shard: 'string',
  help: 'boolean',
} as const;

const USAGE = `Usage: npx turbo run reproduce -- [flags]   (or: node scripts/dist/reproduce.js [flags])
  --profile smoke|quick|paper   experiment matrix and fidelity (default quick; env LVIT_PROFILE)
  --models a,b --datasets a,b --fractions 25,50 --seeds 1,2   run a sub-matrix
  --backend auto|tensorflow|webgpu|onnxruntime|onnxruntime-webgpu|wasm|cpu   (default auto)
  --data-root DIR (env LVIT_DATA_ROOT)  --cache-dir DIR (env LVIT_CACHE_DIR)
  --layout staged|lvit|auto  the data root's layout: staged (shared/data) or the official LViT
             {Train,Val,Test}_Folder download; default auto (detected per dataset)
  --strict-masks  a mask that is not two-level (blurred, anti-aliased, JPEG) is an error, not a warning
  --runs-dir DIR (default runs/)  --site-dir DIR (default site/)
  --restart  discard interrupted runs and train them from scratch (by default they continue from
             their last checkpoint; --resume, the old spelling of that default, is accepted)
  --unet-init  LViT models start from the trained U-Net of the same dataset/fraction/seed (the official
               "pretrain"; results are named lvit-t+unet-init); the U-Net runs first
  --transunet-weights PATH  TransUNet's encoder starts from the ImageNet-21k R50+ViT-B_16.npz at PATH
               (the paper's setting; results are named transunet+in21k; the file fits the paper
               profile's full-size config); default: from scratch
  --no-report  skip building the HTML report and exporting the models it links
  --shard K/N  run part K of N of the selected matrix (runs that start from another's checkpoint stay
               with it); give every shard the same other flags and one shared --runs-dir; a shard
               builds no report: run \`lvit report --runs DIR\` once all shards are done`;

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
  const selected = selectMatrix(profile, flags);
  const layout = layoutFlag(flags);
  log(`profile ${profile.name}${profile.reduced ? ' (REDUCED compute)' : ''}: ${selected.length} runs`);
  const shardFlag = stringFlag(flags, 'shard');
  const matrix = shardFlag ? shardOfMatrix(profile, selected, parseShard(shardFlag), log) : selected;

  const runsRoot = resolve(stringFlag(flags, 'runs-dir') ?? join(root, 'runs'));
  checkWritable(runsRoot);
  const backend = await initBackend(parseBackendRequest(stringFlag(flags, 'backend') ?? 'auto'), { log });
  const dataRoot = resolveDataRoot(stringFlag(flags, 'data-root'));
  const cacheDir = resolveCacheDir(stringFlag(flags, 'cache-dir'));
  const git = gitState(root);
  if (git.dirty) log('warning: the work tree has uncommitted changes; results record the commit with gitDirty=true');

  // Runs another process writes, and this process's runs that start from them: left to that process.
  const leftToOthers = new Set<string>();
  const input: DataInput = { dataRoot, layout, strictMasks: flags['strict-masks'] === true, cacheDir };
  for (const dataset of unique(matrix.map((s) => s.dataset))) {
    const specs = matrix.filter((s) => s.dataset === dataset);
    const ctx = await datasetContext(profile, dataset, specs, { ...input, runsRoot, backend, git, log, restart: flags.restart === true });
    for (const spec of specs) {
      const runId = runIdOf(profile.name, spec);
      const waitsFor = dependenciesOf(spec).map((d) => runIdOf(profile.name, d)).find((d) => leftToOthers.has(d));
      if (waitsFor) {
        log(`${runId}: skipped, it starts from ${waitsFor}, which another process is writing`);
        leftToOthers.add(runId);
        counts.skipped++;
        continue;
      }
      const tensorsBefore = tf.memory().numTensors;
      try {
        const outcome = await runExperiment(spec, ctx);
        if (outcome === 'busy') leftToOthers.add(runId);
        counts[outcome === 'skipped' || outcome === 'busy' ? 'skipped' : 'ran']++;
      } catch (err) {
        counts.failed++;
        log(`FAILED ${runId}: ${(err as Error).stack ?? err}`);
      }
      reportTensorLeak(tensorsBefore, log);
    }
  }

  const left = leftToOthers.size > 0 ? ` (${leftToOthers.size} of them left to other processes)` : '';
  log(`done: ${counts.ran} ran, ${counts.skipped} skipped${left}, ${counts.failed} failed`);
  // Shards finish at different times and would race to replace one site folder.
  if (shardFlag && flags['no-report'] !== true) log('a shard builds no report; run `lvit report --runs DIR` once every shard is done');
  if (!shardFlag && flags['no-report'] !== true) {
    // The report links each row's model; a failed export is reported, the results and report stand.
    for (const failure of await exportPublishedSeeds(runsRoot, profile.name, { cacheDir, log })) log(`FAILED export ${failure}`);
    const outDir = resolve(stringFlag(flags, 'site-dir') ?? join(root, 'site'));
    const report = await buildReport({ runsDir: runsRoot, outDir, profile: profile.name });
    for (const dir of report.removedLeftovers) log(`removed ${dir}, left by a report build that was killed`);
    log(`report written to ${report.indexHtml}`);
  }
  if (counts.failed > 0) throw new Error(`${counts.failed} run(s) failed; completed runs are kept, re-run to retry the rest`);
  return counts;
}

/** The runs of `shard`, logged with their number and ids before any work. */
function shardOfMatrix(profile: ProfileConfig, matrix: RunSpec[], shard: Shard, log: (msg: string) => void): RunSpec[] {
  const { items, cost, totalCost } = selectShard(profile, matrix, shard);
  const share = totalCost > 0 ? ` (${((100 * cost) / totalCost).toFixed(1)} % of the estimated cost)` : '';
  log(`shard ${shard.index}/${shard.count}: ${items.length} of ${matrix.length} runs${share}${items.length ? ':' : ''}`);
  for (const spec of items) log(`  ${runIdOf(profile.name, spec)}`);
  return items;
}

/** Load (or read from cache) one dataset and its text features for every run that needs it. */
async function datasetContext(
  profile: ProfileConfig,
  dataset: DatasetName,
  specs: RunSpec[],
  env: Omit<RunContext, 'profile' | 'data' | 'channelOrder' | 'text' | 'contrastiveLabels'> & DataInput,
): Promise<RunContext> {
  const { log, dataRoot, layout, strictMasks, cacheDir, ...runEnv } = env;
  const dataConfig = profile.data[dataset];
  const channelOrder = CHANNEL_ORDER;
  const source = findDatasetSource(dataRoot, dataset, layout);
  log(`${dataset}: ${source.layout === 'lvit' ? 'official LViT' : 'staged'} layout at ${source.dir}`);
  const data = await loadDataset({
    dataset,
    root: source.dir,
    layout: source.layout,
    strictMasks,
    imageSize: dataConfig.imageSize,
    cacheDir,
    channelOrder,
    limits: dataConfig.limits,
    limitSeed: 666,
    onProgress: progressLogger(`preparing ${dataset}`, log),
  });
  log(`${dataset}: train ${data.train.size}, val ${data.val.size}, test ${data.test.size} at ${dataConfig.imageSize}px`);
  for (const note of data.notes) log(`${dataset}: note: ${note}`);
  for (const warning of data.warnings) log(`${dataset}: warning: ${warning}`);

  // LViT's published contrastive labels, when an LV-loss run of this dataset uses them.
  const needsBank = LV_BANK[dataset] === 'official-contrastive-labels' && specs.some((s) => semiVariantOf(s.model)?.lv);
  const contrastiveLabels = needsBank ? await loadContrastiveLabels(findContrastiveLabelsDir(source), dataConfig.imageSize) : null;
  if (contrastiveLabels) log(`${dataset}: ${contrastiveLabels.length} LV-loss contrastive labels`);

  let text: RunContext['text'] = null;
  if (specs.some((s) => getModelEntry(semiVariantOf(s.model)?.base ?? s.model).usesText)) {
    const texts = [data.train, data.val, data.test].flatMap((split) => split.ids.map((_, i) => split.text(i)));
    texts.push(...(contrastiveLabels ?? []).map((l) => l.text));
    text = await buildTextFeatureLookup(texts, () => openTextEncoder(profile.textEncoder, { cacheDir, log }), { cacheDir });
    log(`text features: ${text.info.name} (${text.info.dim}-d${text.info.substitute ? ', SUBSTITUTE for BERT-base' : ''})`);
  }
  return { ...runEnv, log, profile, data, channelOrder, text, contrastiveLabels };
}

/** Where and how the data is read: `--data-root`, `--layout`, `--strict-masks`, `--cache-dir`. */
interface DataInput {
  dataRoot: string;
  layout: DataLayout | 'auto';
  strictMasks: boolean;
  cacheDir: string;
}

function layoutFlag(flags: Flags): DataLayout | 'auto' {
  const value = stringFlag(flags, 'layout') ?? 'auto';
  if (value !== 'auto' && !DATA_LAYOUTS.includes(value as DataLayout)) throw new Error(`--layout must be one of ${DATA_LAYOUTS.join(', ')}, auto; got '${value}'`);
  return value as DataLayout | 'auto';
}

/** The runs `flags` select from `profile`, in run order (a semi-supervised variant after its prototype). */
export function selectMatrix(profile: ProfileConfig, flags: Flags): RunSpec[] {
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
        // In the profile's order, not the flag's: the U-Net an --unet-init LViT run starts from comes first.
        for (const model of profile.models.filter((m) => models.includes(m)))
          add({ ...cell, model, unetInit: unetInit && model.startsWith('lvit'), ...(model === 'transunet' && transunetWeights ? { transunetWeights } : {}) });
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


function unique<T>(xs: T[]): T[] {
  return [...new Set(xs)];
}
