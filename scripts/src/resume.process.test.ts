/**
 * Resume under real crashes: a `reproduce` worker (the re-executed child that trains) is SIGKILLed in
 * the middle of an epoch, or in the middle of writing a checkpoint (core checkpoint.ts's test hook
 * LVIT_TEST_KILL_IN_CHECKPOINT_WRITE), and a fresh process continues the run. On the onnxruntime
 * backend, the continued run must end bit-identical to an uninterrupted one: every curve value, every
 * per-image score and every final weight (checkpoint/best and checkpoint/last). Smoke profile, one run
 * (U-Net, MoNuSeg, 2 epochs of 3 steps); spawns the built CLI (scripts/dist).
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCheckpointSync, runPaths, type RunResult } from '@lvit-bench/core';
import { runDirOf } from './lib/experiment.js';
import { childrenOf, killStarted, reproduceCli, start, waitFor } from './cli-process.test-util.js';

const work = mkdtempSync(join(tmpdir(), 'lvit-resume-'));
const spec = { model: 'unet', dataset: 'monuseg' as const, labelFraction: 100, seed: 666 };

function folder(name: string): { argv: string[]; runDir: string } {
  const runsDir = join(work, name);
  const argv = ['--profile', 'smoke', '--backend', 'onnxruntime', '--models', 'unet', '--datasets', 'monuseg', '--fractions', '100', '--no-report'];
  return { argv: [...argv, '--runs-dir', runsDir, '--cache-dir', join(work, 'cache')], runDir: runDirOf(runsDir, 'smoke', spec) };
}

/** What must not depend on interruptions: scores, curves (without times) and the final weights. */
function outcome(runDir: string) {
  const result = JSON.parse(readFileSync(join(runDir, 'result.json'), 'utf8')) as RunResult;
  // sha256 of each tensor's bytes: bit-identity, and a failure lists the tensors that differ (a toEqual
  // diff over ~10^5 floats would take minutes to print).
  const weights = (file: string) =>
    Object.fromEntries(Object.entries(loadCheckpointSync(file).model).map(([name, t]) => [name, createHash('sha256').update(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength)).digest('hex')]));
  return {
    test: result.test,
    curves: result.curves.map(({ trainLoss, valLoss, valDice }) => ({ trainLoss, valLoss, valDice })),
    epochsRun: result.train.epochsRun,
    best: weights(runPaths(runDir).best),
    last: weights(runPaths(runDir).last),
  };
}

afterAll(killStarted);

describe.skipIf(process.platform !== 'linux' || !existsSync(reproduceCli))('resume after SIGKILL (onnxruntime, fresh process)', () => {
  let reference: ReturnType<typeof outcome>;
  beforeAll(async () => {
    const { argv, runDir } = folder('uninterrupted');
    const run = start(argv);
    expect(await run.exited, run.output()).toBe(0);
    reference = outcome(runDir);
    expect(reference.epochsRun).toBe(2);
  }, 120_000);

  it('killed mid-epoch (epoch 2, after epoch 1 was checkpointed): the continued run is bit-identical', async () => {
    const { argv, runDir } = folder('killed-mid-epoch');
    const run = start(argv);
    await waitFor('epoch 2 to train', () => /epoch 2 step/.test(run.output()), 90);
    const [worker] = childrenOf(run.proc.pid!);
    expect(worker).toBeGreaterThan(0);
    process.kill(worker, 'SIGKILL');
    await run.exited;
    expect(existsSync(join(runDir, 'result.json'))).toBe(false); // it really died before finishing

    const next = start(argv);
    expect(await next.exited, next.output()).toBe(0);
    expect(next.output()).toMatch(/continuing the interrupted run from its last checkpoint/);
    expect(next.output()).toMatch(/resumed from .*checkpoint\/last after epoch 1/);
    expect(outcome(runDir)).toEqual(reference);
  }, 180_000);

  it("killed mid-checkpoint-write (the 3rd write: epoch 2's, torn): the continued run is bit-identical", async () => {
    // Epoch 1 (always best) writes best then last; epoch 2 writes best if it improved, then last. So the
    // 3rd write is one of epoch 2's, and epoch 1's complete last must survive it.
    const { argv, runDir } = folder('killed-mid-write');
    const run = start(argv, { LVIT_TEST_KILL_IN_CHECKPOINT_WRITE: '3' });
    await run.exited;
    const torn = readdirSync(join(runDir, 'checkpoint')).filter((f) => /^\.(best|last)\.tmp-\d+-[0-9a-f]{8}$/.test(f));
    expect(torn).toHaveLength(1); // the half-written temp file the kill left
    expect(loadCheckpointSync(runPaths(runDir).last).loop!.epoch).toBe(1); // the previous one, intact
    expect(existsSync(join(runDir, 'result.json'))).toBe(false);

    const next = start(argv);
    expect(await next.exited, next.output()).toBe(0);
    expect(next.output()).toMatch(/removed 1 temp file\(s\) a killed writer left/);
    expect(next.output()).toMatch(/resumed from .*checkpoint\/last after epoch 1/);
    expect(outcome(runDir)).toEqual(reference);
  }, 180_000);
});
