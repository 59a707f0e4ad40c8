import { describe, expect, it } from 'vitest';
import { quickProfile, smokeProfile } from '../configs/profiles.js';
import { selectMatrix } from './reproduce.js';
import { runIdOf, type RunSpec } from './run.js';
import { dependenciesOf, dependencyGroups, estimatedCost, parseShard, planShards, selectShard } from './shard.js';

const cell = { dataset: 'monuseg', labelFraction: 25, seed: 666 } as const;

describe('parseShard', () => {
  it('reads K/N and rejects anything but integers 1 <= K <= N', () => {
    expect(parseShard('2/4')).toEqual({ index: 2, count: 4 });
    expect(parseShard('1/1')).toEqual({ index: 1, count: 1 });
    for (const bad of ['0/3', '4/3', '1/0', '1.5/3', '-1/3', 'a/b', '3', '', '1/3/5']) {
      expect(() => parseShard(bad), bad).toThrow(`Flag '--shard' takes K/N with integers 1 <= K <= N (e.g. 2/4), got '${bad}'`);
    }
  });
});

describe('dependenciesOf', () => {
  it('a semi-supervised variant needs its prototype, a --unet-init LViT the U-Net, a plain run nothing', () => {
    expect(dependenciesOf({ ...cell, model: 'lvit-t+epi+lv' })).toEqual([{ ...cell, model: 'lvit-t', unetInit: false }]);
    expect(dependenciesOf({ ...cell, model: 'unet+epi' })).toEqual([{ ...cell, model: 'unet', unetInit: false }]);
    expect(dependenciesOf({ ...cell, model: 'lvit-t', unetInit: true })).toEqual([{ ...cell, model: 'unet', unetInit: false }]);
    expect(dependenciesOf({ ...cell, model: 'lvit-t' })).toEqual([]);
  });
});

describe('estimatedCost', () => {
  it('is max epochs x images per epoch (hand-computed from the profiles)', () => {
    // quick MoNuSeg: 24 train images, 30 epochs; 25 % labels = 6 images; stage 2: 15 epochs over all 24.
    expect(estimatedCost(quickProfile, { ...cell, model: 'unet' })).toBe(30 * 6);
    expect(estimatedCost(quickProfile, { ...cell, model: 'lvit-t+epi+lv' })).toBe(15 * 24);
    // quick QaTa: limited to 300 train images, 4 epochs at 100 %.
    expect(estimatedCost(quickProfile, { ...cell, dataset: 'qata', labelFraction: 100, model: 'unet' })).toBe(4 * 300);
    // smoke: 8 train images, but at most 3 steps of batch 2 per epoch, 2 epochs.
    expect(estimatedCost(smokeProfile, { ...cell, labelFraction: 100, model: 'unet' })).toBe(2 * 6);
    expect(estimatedCost(smokeProfile, { ...cell, labelFraction: 50, model: 'unet' })).toBe(2 * 4);
  });
});

describe('planShards', () => {
  // a <- b (b depends on a), c, d: groups {a, b} = 8, {c} = 4, {d} = 2.
  const items = [
    { id: 'a', cost: 5, deps: [] as string[] },
    { id: 'b', cost: 3, deps: ['a'] },
    { id: 'c', cost: 4, deps: [] },
    { id: 'd', cost: 2, deps: ['x'] }, // x is not in the matrix: no group to join
  ];
  const opts = {
    idOf: (i: (typeof items)[number]) => i.id,
    costOf: (i: (typeof items)[number]) => i.cost,
    dependenciesOf: (i: (typeof items)[number]) => i.deps.map((id) => items.find((j) => j.id === id) ?? { id, cost: 0, deps: [] }),
  };
  const ids = (plan: { items: { id: string }[] }[]) => plan.map((s) => s.items.map((i) => i.id));

  it('assigns whole groups, largest first, to the least loaded shard (hand-computed)', () => {
    expect(ids(planShards(items, 2, opts))).toEqual([['a', 'b'], ['c', 'd']]);
    expect(planShards(items, 2, opts).map((s) => s.cost)).toEqual([8, 6]);
    expect(ids(planShards(items, 3, opts))).toEqual([['a', 'b'], ['c'], ['d']]);
    expect(ids(planShards(items, 5, opts))).toEqual([['a', 'b'], ['c'], ['d'], [], []]);
  });

  it('does not depend on the order the matrix lists its runs in', () => {
    const reversed = planShards([...items].reverse(), 2, opts);
    expect(reversed.map((s) => s.items.map((i) => i.id).sort())).toEqual([['a', 'b'], ['c', 'd']]);
  });

  it('refuses a matrix that lists a run twice', () => {
    expect(() => dependencyGroups([items[0], items[0]], opts)).toThrow('The run matrix lists a twice');
  });
});

describe.each([
  ['quick', {}],
  ['quick --unet-init', { 'unet-init': true }],
])('the %s matrix', (_, flags) => {
  const matrix = selectMatrix(quickProfile, flags);
  const id = (s: RunSpec) => runIdOf('quick', s);
  const cost = (s: RunSpec) => estimatedCost(quickProfile, s);
  const groups = dependencyGroups(matrix, { idOf: id, dependenciesOf });
  const largestGroup = Math.max(...groups.map((g) => g.reduce((t, s) => t + cost(s), 0)));
  const total = matrix.reduce((t, s) => t + cost(s), 0);

  it.each([1, 2, 3, 4, 5, 6, 7, 8])('in %i shards: every run once, dependencies together, balanced, the same on every call', (count) => {
    const shards = Array.from({ length: count }, (_, k) => selectShard(quickProfile, matrix, { index: k + 1, count }));
    const assigned = shards.flatMap((s) => s.items.map(id));
    expect(assigned.sort()).toEqual(matrix.map(id).sort());
    const shardOf = new Map(shards.flatMap((s, k) => s.items.map((spec) => [id(spec), k] as const)));
    for (const spec of matrix) {
      for (const dep of dependenciesOf(spec)) if (shardOf.has(id(dep))) expect(shardOf.get(id(dep)), id(spec)).toBe(shardOf.get(id(spec)));
    }
    // Greedy's bound: the last group added to the fullest shard went to the then-lightest one.
    for (const s of shards) expect(s.cost).toBeLessThanOrEqual(total / count + largestGroup);
    expect(shards.every((s) => s.totalCost === total)).toBe(true);
    // On this matrix the spread is much tighter than the bound: within 7 % of an even split.
    expect(Math.max(...shards.map((s) => s.cost))).toBeLessThanOrEqual(1.07 * (total / count));
    // A semi-supervised variant follows its prototype within its shard, as in the unsharded order.
    for (const s of shards) {
      const order = s.items.map(id);
      for (const spec of s.items) for (const dep of dependenciesOf(spec)) if (order.includes(id(dep))) expect(order.indexOf(id(dep))).toBeLessThan(order.indexOf(id(spec)));
    }
    const again = Array.from({ length: count }, (_, k) => selectShard(quickProfile, selectMatrix(quickProfile, flags), { index: k + 1, count }));
    expect(again.map((s) => s.items.map(id))).toEqual(shards.map((s) => s.items.map(id)));
  });

  it('has several runs per dependency group to keep together', () => {
    expect(groups.length).toBeLessThan(matrix.length);
    expect(Math.max(...groups.map((g) => g.length))).toBeGreaterThanOrEqual(3);
  });
});
