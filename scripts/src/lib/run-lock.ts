/**
 * One writer per run folder: `run.lock` holds the owner's pid, host and start time, created with
 * O_EXCL so two processes can never both take it. A lock whose process is gone (same host, pid not
 * running: a SIGKILL, a crash, a power cut) is stale: it is named in the log and taken over. A lock
 * held by a live process, or by another host (whose processes cannot be checked from here), makes
 * the second writer refuse with a message saying who holds it.
 */
import { closeSync, existsSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';

export const LOCK_FILE = 'run.lock';

export interface LockOwner {
  pid: number;
  host: string;
  startedAt: string;
}

/** The run folder is locked by another writer (or a lock that cannot be checked from here): leave the run to it. */
export class RunBusyError extends Error {
  override name = 'RunBusyError';
}

export interface LockDeps {
  pid: number;
  host: string;
  now: () => Date;
  /** Whether a process with this pid runs on this host. */
  alive: (pid: number) => boolean;
  log: (msg: string) => void;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function describe(owner: LockOwner): string {
  return `pid ${owner.pid} on ${owner.host}, started ${owner.startedAt}`;
}

function readOwner(path: string): LockOwner | null {
  try {
    const o = JSON.parse(readFileSync(path, 'utf8')) as LockOwner;
    return Number.isInteger(o.pid) && typeof o.host === 'string' ? o : null;
  } catch {
    return null;
  }
}

/** Take the run folder's lock, or throw saying who holds it. Returns the release function. */
export function acquireRunLock(dir: string, deps: Partial<LockDeps> = {}): () => void {
  const d: LockDeps = { pid: process.pid, host: hostname(), now: () => new Date(), alive: processAlive, log: () => {}, ...deps };
  const path = join(dir, LOCK_FILE);
  const me: LockOwner = { pid: d.pid, host: d.host, startedAt: d.now().toISOString() };
  for (let attempt = 0; attempt < 2; attempt++) {
    let fd: number;
    try {
      fd = openSync(path, 'wx');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const owner = readOwner(path);
      // Unreadable: perhaps just created by a writer that has not written its owner yet.
      if (!owner) throw new RunBusyError(`${path}: the run folder is locked by a lock file that cannot be read; if no process writes this run, delete the file`);
      if (owner.host !== d.host) {
        throw new RunBusyError(`${path}: the run is being written by ${describe(owner)}; if that machine no longer runs it, delete the lock file`);
      }
      if (d.alive(owner.pid)) throw new RunBusyError(`${path}: the run is being written by ${describe(owner)}; wait for it or stop that process`);
      // Stale: keep it beside the folder's files for the record, then try again.
      const stale = `${path}.stale-${owner.pid}`;
      try {
        renameSync(path, stale);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue; // another process moved it first
        throw e;
      }
      d.log(`${dir}: took over a stale lock (${describe(owner)}, no longer running; kept as ${stale})`);
      continue;
    }
    try {
      writeSync(fd, JSON.stringify(me) + '\n');
    } finally {
      closeSync(fd);
    }
    return () => {
      const owner = existsSync(path) ? readOwner(path) : null;
      if (owner && owner.pid === me.pid && owner.host === me.host && owner.startedAt === me.startedAt) unlinkSync(path);
    };
  }
  throw new Error(`${path}: could not take the run lock (another process took it at the same time)`);
}
