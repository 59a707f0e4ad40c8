/**
 * `reproduce --shard K/N` under real processes: shards started together on one runs folder (as a
 * job array on a shared file system) do the work of one unsharded run, each run exactly once, and a
 * run another live process holds is left to it. Smoke profile, a sub-matrix of four runs in three
 * dependency groups: U-Net at 50 and 100 %, and LViT-T at 50 % with its semi-supervised variant.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { RunResult } from '@lvit-bench/core';
import { findResultFiles } from '@lvit-bench/report';
import { killStarted, reproduceCli, start } from './cli-process.test-util.js';
import { runDirOf, runIdOf, type RunSpec } from './lib/experiment.js';
import { LOCK_FILE } from './lib/run-lock.js';
import { SEGMENTS_FILE } from './lib/segments.js';

const work = mkdtempSync(join(tmpdir(), 'lvit-shards-'));
const subMatrix = ['--profile', 'smoke', '--models', 'unet,lvit-t+epi+lv', '--datasets', 'monuseg', '--fractions', '50,100', '--no-report'];
const argvFor = (runs: string, ...more: string[]) => [...subMatrix, '--runs-dir', join(work, runs), '--cache-dir', join(work, 'cache'), ...more];
const cell = { dataset: 'monuseg', seed: 666 } as const;
const RUNS: RunSpec[] = [
  { ...cell, model: 'unet', labelFraction: 50 },
  { ...cell, model: 'unet', labelFraction: 100 },
  { ...cell, model: 'lvit-t', labelFraction: 50 },
  { ...cell, model: 'lvit-t+epi+lv', labelFraction: 50 },
];
const id = (spec: RunSpec) => runIdOf('smoke', spec);
const [unet50, unet100, prototype, semi] = RUNS.map(id);

/** The run ids a process announced training (each "training <model>" line names its run). */
function trained(output: string): string[] {
  return [...output.matchAll(/\[reproduce\] (\S+): training /g)].map((m) => m[1]);
}

/** The run ids a shard listed at start, after its "shard K/N: n of 4 runs:" line. */
function listed(output: string): string[] {
  const lines = output.split('\n');
  const head = lines.findIndex((l) => /\] shard \d+\/\d+: \d+ of 4 runs/.test(l));
  expect(head, output).toBeGreaterThanOrEqual(0);
  const ids: string[] = [];
  for (const line of lines.slice(head + 1)) {
    const m = /^\[reproduce\] {3}(\S+)$/.exec(line);
    if (!m) break;
    ids.push(m[1]);
  }
  return ids;
}

const results = (runs: string) => findResultFiles(join(work, runs)).map((f) => relative(join(work, runs), f));
const readResult = (runs: string, spec: RunSpec) => JSON.parse(readFileSync(join(runDirOf(join(work, runs), 'smoke', spec), 'result.json'), 'utf8')) as RunResult;

afterAll(killStarted);

describe.skipIf(process.platform !== 'linux' || !existsSync(reproduceCli))('reproduce --shard under real processes', () => {
  let shards: { output: string; code: number | null }[] = [];

  it('two shards started together on one runs folder do what one unsharded run does, each run once', async () => {
    const whole = start(argvFor('whole'));
    const started = [start(argvFor('shared', '--shard', '1/2')), start(argvFor('shared', '--shard', '2/2'))];
    const [wholeCode, ...codes] = await Promise.all([whole.closed, ...started.map((s) => s.closed)]);
    shards = started.map((s, k) => ({ output: s.output(), code: codes[k] }));
    expect(wholeCode, whole.output()).toBe(0);
    for (const s of shards) expect(s.code, s.output).toBe(0);

    // Each shard said which runs it has; together they are the matrix, each once, the semi run with its prototype.
    const lists = shards.map((s) => listed(s.output));
    expect(lists.flat().sort()).toEqual(RUNS.map(id).sort());
    expect(lists.every((l) => l.length > 0)).toBe(true);
    const withPrototype = lists.find((l) => l.includes(prototype))!;
    expect(withPrototype.indexOf(semi)).toBeGreaterThan(withPrototype.indexOf(prototype));

    // Each run trained by the shard that listed it, and by no other process.
    for (const [k, s] of shards.entries()) expect(trained(s.output).sort()).toEqual(lists[k].sort());
    for (const spec of RUNS) {
      const segments = JSON.parse(readFileSync(join(runDirOf(join(work, 'shared'), 'smoke', spec), SEGMENTS_FILE), 'utf8'));
      expect(segments.starts, id(spec)).toHaveLength(1);
    }

    // The same result files as the unsharded run, with the same numbers (training is seeded).
    expect(results('shared')).toEqual(results('whole'));
    expect(results('shared')).toHaveLength(RUNS.length);
    for (const spec of RUNS) {
      const [a, b] = [readResult('whole', spec), readResult('shared', spec)];
      expect(b.curves.map((c) => c.trainLoss), id(spec)).toEqual(a.curves.map((c) => c.trainLoss));
      expect(b.test.dice, id(spec)).toBe(a.test.dice);
    }
    expect(readResult('shared', { ...cell, model: 'lvit-t+epi+lv', labelFraction: 50 }).semi?.prototypeRunId).toBe(prototype);
  }, 180_000);

  it('a shard started again runs none of its completed runs', async () => {
    const again = start(argvFor('shared', '--shard', '1/2'));
    expect(await again.closed, again.output()).toBe(0);
    expect(trained(again.output())).toEqual([]);
    for (const run of listed(shards[0].output)) expect(again.output()).toContain(`${run}: complete, skipped`);
    expect(again.output()).toMatch(`done: 0 ran, ${listed(shards[0].output).length} skipped, 0 failed`);
  }, 120_000);

  it('leaves runs another live process holds to it, and the runs that start from them, without failing', async () => {
    // This test process holds the locks of the U-Net 100 % run and the semi-supervised run's prototype.
    const owner = { pid: process.pid, host: hostname(), startedAt: new Date().toISOString() };
    for (const spec of [RUNS[1], RUNS[2]]) {
      const dir = runDirOf(join(work, 'locked'), 'smoke', spec);
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, LOCK_FILE), JSON.stringify(owner));
    }
    const run = start(argvFor('locked', '--shard', '1/1'));
    expect(await run.closed, run.output()).toBe(0);
    const out = run.output();
    expect(trained(out)).toEqual([unet50]);
    for (const held of [unet100, prototype]) expect(out).toMatch(new RegExp(`${held}: skipped, another process has it: .*run.lock: the run is being written by pid ${process.pid} on `));
    expect(out).toContain(`${semi}: skipped, it starts from ${prototype}, which another process is writing`);
    expect(out).toContain('done: 1 ran, 3 skipped (3 of them left to other processes), 0 failed');
    expect(results('locked')).toEqual([relative(join(work, 'locked'), join(runDirOf(join(work, 'locked'), 'smoke', RUNS[0]), 'result.json'))]);
    for (const spec of [RUNS[1], RUNS[2]]) expect(JSON.parse(readFileSync(join(runDirOf(join(work, 'locked'), 'smoke', spec), LOCK_FILE), 'utf8'))).toEqual(owner);
  }, 120_000);

  it('refuses a malformed --shard before any work', async () => {
    const run = start(argvFor('bad', '--shard', '3/2')); // the other malformed forms: lib/shard.test.ts
    expect(await run.closed).toBe(1);
    expect(run.output()).toContain(`[reproduce] Flag '--shard' takes K/N with integers 1 <= K <= N (e.g. 2/4), got '3/2'`);
    expect(run.output()).not.toMatch(/preparing|training/);
  }, 60_000);
});
