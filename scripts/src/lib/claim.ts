/**
 * Whether this process should write a run, in a runs folder other processes (other shards, other
 * machines on a shared file system) may write too: a complete run is never run again, a run another
 * writer holds is left to it, and otherwise this process takes the run's lock.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { acquireRunLock, RunBusyError } from './run-lock.js';
import { readResult, RESULT_FILE } from './run.js';

export type Claim =
  | { status: 'complete' }
  | { status: 'busy'; reason: string }
  | { status: 'claimed'; previous: ReturnType<typeof readResult>; release: () => void };

/** Claim the run folder `dir`; `lock` takes its lock (acquireRunLock, or a stand-in in tests). */
export function claimRun(dir: string, lock: (dir: string) => () => void = acquireRunLock): Claim {
  const resultPath = join(dir, RESULT_FILE);
  if (readResult(resultPath).status === 'complete') return { status: 'complete' };
  mkdirSync(dir, { recursive: true });
  let release: () => void;
  try {
    release = lock(dir);
  } catch (err) {
    if (err instanceof RunBusyError) return { status: 'busy', reason: err.message };
    throw err;
  }
  // Again under the lock: the writer that held it until a moment ago may have finished the run.
  const previous = readResult(resultPath);
  if (previous.status === 'complete') {
    release();
    return { status: 'complete' };
  }
  return { status: 'claimed', previous, release };
}
