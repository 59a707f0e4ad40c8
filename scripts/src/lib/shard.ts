/**
 * `reproduce --shard K/N`: split the selected run matrix into N parts for N machines (a Slurm job
 * array, a Kubernetes Indexed Job) sharing one runs folder. A run that starts from another run's
 * checkpoint (a semi-supervised variant from its prototype, `--unet-init` LViT from the U-Net) lands
 * in the shard of what it depends on: dependency-connected runs form a group, and whole groups are
 * assigned to shards by estimated cost (largest first, each to the least loaded shard), so every
 * shard's estimated cost is at most total/N + the largest group's. The split depends only on the
 * profile and the selected matrix, so every shard computes the same one from the same flags.
 */
import type { DatasetName } from '../configs/base.js';
import type { ProfileConfig } from '../configs/profiles.js';
import { semiVariantOf } from '../configs/semi.js';
import { runIdOf, scheduleOf, type RunSpec } from './run.js';
import { prototypeSpec } from './semi.js';

export interface Shard {
  /** 1-based. */
  index: number;
  count: number;
}

/** `--shard K/N`, 1 <= K <= N. */
export function parseShard(value: string): Shard {
  const m = /^(\d+)\/(\d+)$/.exec(value.trim());
  const [index, count] = m ? [Number(m[1]), Number(m[2])] : [NaN, NaN];
  if (!m || count < 1 || index < 1 || index > count) {
    throw new Error(`Flag '--shard' takes K/N with integers 1 <= K <= N (e.g. 2/4), got '${value}'`);
  }
  return { index, count };
}

/** The runs whose checkpoints `spec` starts from (they must finish first, on the same runs folder). */
export function dependenciesOf(spec: RunSpec): RunSpec[] {
  const variant = semiVariantOf(spec.model);
  if (variant) return [prototypeSpec(spec, variant)];
  if (spec.unetInit) return [{ ...spec, model: 'unet', unetInit: false }];
  return [];
}

/**
 * Training images per dataset in the staged data (shared/data/README.md: MoNuSeg train 24, QaTa
 * train 5716), before a profile's limits. Only the cost estimate uses them.
 */
const STAGED_TRAIN_IMAGES: Record<DatasetName, number> = { monuseg: 24, qata: 5716 };

/**
 * A run's estimated cost in image passes: max epochs x images per epoch (the labelled subset; all
 * training images in stage 2 of a semi-supervised run), capped by the profile's steps per epoch.
 */
export function estimatedCost(profile: ProfileConfig, spec: RunSpec): number {
  const semi = semiVariantOf(spec.model) !== undefined;
  const schedule = scheduleOf(profile, spec.dataset, semi);
  const trainImages = Math.min(STAGED_TRAIN_IMAGES[spec.dataset], profile.data[spec.dataset].limits?.train ?? Infinity);
  const images = semi ? trainImages : Math.max(1, Math.round((trainImages * spec.labelFraction) / 100));
  const perEpoch = schedule.maxStepsPerEpoch ? Math.min(images, schedule.maxStepsPerEpoch * schedule.batchSize) : images;
  return schedule.maxEpochs * perEpoch;
}

export interface ShardPlanOptions<T> {
  idOf: (item: T) => string;
  costOf: (item: T) => number;
  /** Items this one depends on; those outside `items` are ignored (they must exist already). */
  dependenciesOf: (item: T) => T[];
}

/** One shard of a plan: its items in their input order, and their summed cost. */
export interface PlannedShard<T> {
  items: T[];
  cost: number;
}

/** The runs of `matrix` that shard `shard` runs, with their estimated cost and the whole matrix's. */
export function selectShard(profile: ProfileConfig, matrix: readonly RunSpec[], shard: Shard): PlannedShard<RunSpec> & { totalCost: number } {
  const plan = planShards(matrix, shard.count, {
    idOf: (spec) => runIdOf(profile.name, spec),
    costOf: (spec) => estimatedCost(profile, spec),
    dependenciesOf,
  });
  return { ...plan[shard.index - 1], totalCost: plan.reduce((s, p) => s + p.cost, 0) };
}

/** Split `items` into `count` shards; dependency groups are never split. Independent of the input order. */
export function planShards<T>(items: readonly T[], count: number, opts: ShardPlanOptions<T>): PlannedShard<T>[] {
  const groups = dependencyGroups(items, opts)
    .map((members) => ({ members, cost: members.reduce((s, m) => s + opts.costOf(m), 0), key: members.map(opts.idOf).sort()[0] }))
    .sort((a, b) => b.cost - a.cost || (a.key < b.key ? -1 : 1));
  const shards = Array.from({ length: count }, () => ({ members: new Set<T>(), cost: 0 }));
  for (const group of groups) {
    const lightest = shards.reduce((best, s) => (s.cost < best.cost ? s : best));
    for (const m of group.members) lightest.members.add(m);
    lightest.cost += group.cost;
  }
  return shards.map((s) => ({ items: items.filter((item) => s.members.has(item)), cost: s.cost }));
}

/** Connected components of the "depends on" relation among `items` (union-find over ids). */
export function dependencyGroups<T>(items: readonly T[], opts: Omit<ShardPlanOptions<T>, 'costOf'>): T[][] {
  const parent = new Map<string, string>();
  for (const item of items) {
    const id = opts.idOf(item);
    if (parent.has(id)) throw new Error(`The run matrix lists ${id} twice`);
    parent.set(id, id);
  }
  const root = (id: string): string => {
    let r = id;
    while (parent.get(r) !== r) r = parent.get(r)!;
    parent.set(id, r);
    return r;
  };
  for (const item of items) {
    for (const dep of opts.dependenciesOf(item)) {
      const depId = opts.idOf(dep);
      if (!parent.has(depId)) continue;
      const [a, b] = [root(opts.idOf(item)), root(depId)];
      if (a !== b) parent.set(a < b ? b : a, a < b ? a : b);
    }
  }
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const r = root(opts.idOf(item));
    groups.set(r, [...(groups.get(r) ?? []), item]);
  }
  return [...groups.values()];
}
