/**
 * One writer per run folder: `run.lock` holds the owner's pid, host and start time, created with
 * O_EXCL so two processes can never both take it. A lock whose process is gone (same host, pid not
 * running, or running a process that started after the lock was taken: a SIGKILL, a crash, a power
 * cut, a container restarted under the same host name that reuses pids) is stale: it is named in
 * the log and taken over. A lock
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
  /** Whether the process that took this lock still runs on this host. */
  running: (owner: LockOwner) => boolean;
  log: (msg: string) => void;
}

/** The owner's pid is alive and that process is not younger than the lock (a reused pid is not the owner). */
export function ownerRunning(owner: LockOwner): boolean {
  try {
    process.kill(owner.pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  const started = processStartMs(owner.pid);
  // A minute of slack: /proc/stat's boot time has whole seconds and moves when the clock is stepped;
  // better to leave a stale lock to a person (the message names it) than to take a live one.
  return started === undefined || started <= Date.parse(owner.startedAt) + 60_000;
}

/** When a process started, from /proc (Linux; undefined elsewhere or when unreadable). */
function processStartMs(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 22 (starttime, in clock ticks of 1/100 s since boot) counts from after the parenthesised name.
    const ticks = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]);
    const bootSec = Number(/^btime (\d+)$/m.exec(readFileSync('/proc/stat', 'utf8'))?.[1]);
    return Number.isFinite(ticks) && Number.isFinite(bootSec) ? bootSec * 1000 + ticks * 10 : undefined;
  } catch {
    return undefined;
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
  const d: LockDeps = { pid: process.pid, host: hostname(), now: () => new Date(), running: ownerRunning, log: () => {}, ...deps };
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
      if (d.running(owner)) throw new RunBusyError(`${path}: the run is being written by ${describe(owner)}; wait for it or stop that process`);
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
