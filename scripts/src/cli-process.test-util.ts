/**
 * Test helpers for the tests that spawn the built CLI (scripts/dist, built by turbo before the tests)
 * as a user starts it (run-folder, resume, shard), and wait on what it prints.
 */
import { ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const reproduceCli = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'reproduce.js');

export interface Started {
  proc: ChildProcess;
  /** stdout and stderr so far, interleaved. */
  output: () => string;
  /** The exit code, as soon as the process exits. */
  exited: Promise<number | null>;
  /** The exit code, once its output streams are closed too (all of its output is in). */
  closed: Promise<number | null>;
}

/** Every process `start` spawned, for an afterAll that kills what is left. */
const startedProcesses: ChildProcess[] = [];

/** Spawn `reproduce argv` (with extra env) as a user does: not yet re-executed, so it re-executes itself with the glibc tunables. */
export function start(argv: string[], extraEnv: Record<string, string> = {}): Started {
  const env = { ...process.env, ...extraEnv };
  for (const k of ['GLIBC_TUNABLES', 'LVIT_BENCH_GLIBC_REEXEC', 'LVIT_BENCH_PARENT_PID']) delete env[k];
  const proc = spawn(process.execPath, [reproduceCli, ...argv], { stdio: ['ignore', 'pipe', 'pipe'], env });
  startedProcesses.push(proc);
  let out = '';
  proc.stdout!.on('data', (b) => (out += b));
  proc.stderr!.on('data', (b) => (out += b));
  return {
    proc,
    output: () => out,
    exited: new Promise((r) => proc.on('exit', (code) => r(code))),
    closed: new Promise((r) => proc.on('close', (code) => r(code))),
  };
}

export async function waitFor(what: string, check: () => boolean, seconds: number): Promise<void> {
  const until = Date.now() + seconds * 1000;
  while (!check()) {
    if (Date.now() > until) throw new Error(`timed out after ${seconds}s waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** SIGKILLs every started process still running (for afterAll). */
export function killStarted(): void {
  for (const p of startedProcesses) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
}

export function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
