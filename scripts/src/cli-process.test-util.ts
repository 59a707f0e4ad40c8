/**
 * Test helpers for spawning the built CLI (scripts/dist, built by turbo before the tests) as a
 * user starts it, and waiting on what it prints.
 */
import { ChildProcess, spawn } from 'node:child_process';
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
export const startedProcesses: ChildProcess[] = [];

/** Spawn `node script argv` as a user does: not yet re-executed, so the CLI re-executes itself with the glibc tunables. */
export function start(argv: string[], script = reproduceCli): Started {
  const env = { ...process.env };
  for (const k of ['GLIBC_TUNABLES', 'LVIT_BENCH_GLIBC_REEXEC', 'LVIT_BENCH_PARENT_PID']) delete env[k];
  const proc = spawn(process.execPath, [script, ...argv], { stdio: ['ignore', 'pipe', 'pipe'], env });
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
    await new Promise((r) => setTimeout(r, 100));
  }
}

export function killStarted(): void {
  for (const p of startedProcesses) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
}
