import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { acquireRunLock, LOCK_FILE, ownerRunning, RunBusyError } from './run-lock.js';

const host = hostname();

describe('ownerRunning', () => {
  it('is true for a live pid that started before the lock, false for a dead or reused pid', () => {
    expect(ownerRunning({ pid: process.pid, host, startedAt: new Date().toISOString() })).toBe(true);
    // This pid runs, but the process holding it started long after the lock: a reused pid.
    expect(ownerRunning({ pid: process.pid, host, startedAt: '2000-01-01T00:00:00.000Z' })).toBe(false);
    expect(ownerRunning({ pid: 2 ** 22 + 1, host, startedAt: new Date().toISOString() })).toBe(false); // above Linux's pid_max
  });
});

describe('acquireRunLock', () => {
  it('takes over a lock whose pid now belongs to a younger process (a restarted container), keeping it aside', () => {
    const dir = mkdtempSync(join(tmpdir(), 'lvit-lock-'));
    const old = { pid: process.pid, host, startedAt: '2000-01-01T00:00:00.000Z' };
    writeFileSync(join(dir, LOCK_FILE), JSON.stringify(old));
    const logs: string[] = [];
    const release = acquireRunLock(dir, { log: (m) => logs.push(m) });
    expect(logs.join('\n')).toMatch(`took over a stale lock (pid ${process.pid} on ${host}, started 2000-01-01T00:00:00.000Z, no longer running`);
    expect(JSON.parse(readFileSync(join(dir, `${LOCK_FILE}.stale-${process.pid}`), 'utf8'))).toEqual(old);
    release();
    expect(existsSync(join(dir, LOCK_FILE))).toBe(false);
  });

  it('refuses a lock a live process took, as RunBusyError', () => {
    const dir = mkdtempSync(join(tmpdir(), 'lvit-lock-'));
    const release = acquireRunLock(dir);
    expect(() => acquireRunLock(dir)).toThrow(RunBusyError);
    expect(() => acquireRunLock(dir)).toThrow(`the run is being written by pid ${process.pid} on ${host}`);
    release();
  });
});
