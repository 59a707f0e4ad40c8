/**
 * The run folder under real processes: `reproduce` re-executes itself (engine/glibc.ts), so a signal
 * to the parent must also end the child, and a run folder has one writer at a time. These spawn the
 * built CLI (scripts/dist, built by turbo before the tests) on a one-run quick matrix.
 */
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runDirOf } from './lib/experiment.js';
import { LOCK_FILE } from './lib/run-lock.js';
import { alive, childrenOf, killStarted, reproduceCli, start, waitFor } from './cli-process.test-util.js';

const work = mkdtempSync(join(tmpdir(), 'lvit-procs-'));
const args = ['--profile', 'quick', '--models', 'unet', '--datasets', 'monuseg', '--fractions', '100', '--seeds', '666', '--no-report'];

/** A runs folder of its own per test, so one test's checkpoints never decide where another's run starts. */
function runsFolder(name: string): { argv: string[]; runDir: string } {
  const runsDir = join(work, name);
  return {
    argv: [...args, '--runs-dir', runsDir, '--cache-dir', join(work, 'cache')],
    runDir: runDirOf(runsDir, 'quick', { model: 'unet', dataset: 'monuseg', labelFraction: 100, seed: 666 }),
  };
}

afterAll(killStarted);

describe.skipIf(process.platform !== 'linux' || !existsSync(reproduceCli))('run folders under real processes', () => {
  it('a second writer refuses while the first trains, naming the holder', async () => {
    const { argv, runDir } = runsFolder('two-writers');
    const first = start(argv);
    await waitFor('the first run to train', () => /epoch 1\/30/.test(first.output()), 90);
    const lock = JSON.parse(readFileSync(join(runDir, LOCK_FILE), 'utf8'));
    const second = start(argv);
    expect(await second.closed).toBe(0); // leaves the run to its writer, as a shard does (not a failure)
    expect(second.output()).toMatch(new RegExp(`skipped, another process has it: .*run.lock: the run is being written by pid ${lock.pid} on .*; wait for it or stop that process`));
    expect(first.proc.exitCode).toBeNull(); // undisturbed
    first.proc.kill('SIGTERM');
    await first.exited;
  }, 180_000);

  it('killing the parent ends the re-executed child; the next run takes over the stale lock and continues', async () => {
    const { argv, runDir } = runsFolder('killed-parent');
    const run = start(argv);
    await waitFor('the first epoch to be checkpointed', () => /epoch 2 step/.test(run.output()), 90);
    const [child] = childrenOf(run.proc.pid!);
    expect(child).toBeGreaterThan(0);
    run.proc.kill('SIGTERM'); // what `kill`, `timeout` or a scheduler's cancel sends: to the parent only
    await run.exited;
    await waitFor('the child to die with its parent', () => !alive(child), 5);
    const lock = JSON.parse(readFileSync(join(runDir, LOCK_FILE), 'utf8'));
    expect(lock.pid).toBe(child); // left behind by the killed writer

    const next = start(argv);
    await waitFor('the next run to continue', () => /continuing the interrupted run/.test(next.output()), 90);
    expect(next.output()).toMatch(new RegExp(`took over a stale lock \\(pid ${child} on .*no longer running`));
    next.proc.kill('SIGTERM');
    await next.exited;
  }, 180_000);
});
