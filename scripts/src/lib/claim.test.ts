import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { claimRun } from './claim.js';
import { acquireRunLock, LOCK_FILE } from './run-lock.js';
import { RESULT_FILE } from './run.js';

const root = mkdtempSync(join(tmpdir(), 'lvit-claim-'));
let n = 0;
const runFolder = () => join(root, `run${n++}`);

/** The smallest result.json that validates (report/load.ts parseRunResult). */
function writeResult(dir: string): void {
  mkdirSync(dir, { recursive: true });
  const result = {
    schema: 'lvit-bench/run@1',
    runId: 'smoke/monuseg/unet/f100/s666',
    model: 'unet',
    dataset: 'monuseg',
    labelFraction: 100,
    seed: 666,
    profile: { name: 'smoke', reduced: true },
    test: { dice: 0.5, iou: 0.33, perImage: [] },
    provenance: {},
    train: {},
    curves: [],
    qualitative: [],
  };
  writeFileSync(join(dir, RESULT_FILE), JSON.stringify(result));
}

describe('claimRun', () => {
  it('skips a complete run without locking it', () => {
    const dir = runFolder();
    writeResult(dir);
    expect(claimRun(dir)).toEqual({ status: 'complete' });
    expect(existsSync(join(dir, LOCK_FILE))).toBe(false);
  });

  it('leaves a run whose lock a live process holds to that process, naming it', () => {
    const dir = runFolder();
    mkdirSync(dir);
    const owner = { pid: process.pid, host: hostname(), startedAt: new Date().toISOString() };
    writeFileSync(join(dir, LOCK_FILE), JSON.stringify(owner));
    const claim = claimRun(dir);
    expect(claim.status).toBe('busy');
    expect(claim.status === 'busy' && claim.reason).toMatch(`the run is being written by pid ${process.pid} on ${hostname()}, started ${owner.startedAt}`);
    expect(JSON.parse(readFileSync(join(dir, LOCK_FILE), 'utf8'))).toEqual(owner); // untouched
  });

  it('leaves a run locked from another host to it (its process cannot be checked from here)', () => {
    const dir = runFolder();
    mkdirSync(dir);
    writeFileSync(join(dir, LOCK_FILE), JSON.stringify({ pid: 1, host: 'node-17', startedAt: 'x' }));
    const claim = claimRun(dir);
    expect(claim.status === 'busy' && claim.reason).toMatch(/written by pid 1 on node-17.*if that machine no longer runs it, delete the lock file/);
  });

  it('does not run again a run that the previous lock holder finished while this process waited', () => {
    const dir = runFolder();
    const claim = claimRun(dir, (d) => {
      writeResult(d); // the other writer finishes and releases just before this process locks
      return acquireRunLock(d);
    });
    expect(claim).toEqual({ status: 'complete' });
    expect(existsSync(join(dir, LOCK_FILE))).toBe(false); // released again
  });

  it('locks a missing or invalid run for this process and hands back the release', () => {
    const dir = runFolder();
    const claim = claimRun(dir);
    expect(claim.status === 'claimed' && claim.previous).toEqual({ status: 'missing' });
    expect(JSON.parse(readFileSync(join(dir, LOCK_FILE), 'utf8')).pid).toBe(process.pid);
    if (claim.status === 'claimed') claim.release();
    expect(existsSync(join(dir, LOCK_FILE))).toBe(false);

    writeFileSync(join(dir, RESULT_FILE), '{"schema":');
    const again = claimRun(dir);
    expect(again.status === 'claimed' && again.previous.status).toBe('invalid');
    if (again.status === 'claimed') again.release();
  });
});
