import { spawnSync } from 'node:child_process';
import { constants } from 'node:os';
import { Worker } from 'node:worker_threads';

/**
 * On this class of VM, first-touch page faults cost 3-5 ms per MB and freed memory goes back to
 * the host, so every large glibc allocation pays again (ENGINE.md §1.1b). These tunables keep
 * freed memory inside the process: up to 10x for anything using glibc malloc (ORT, the cpu
 * backend's ArrayBuffers, dataSync copies), no cost on wasm. glibc reads the variable only at
 * process start, hence the re-exec.
 */
export const GLIBC_TUNABLES_VALUE = 'glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=68719476736';

const REEXEC_MARKER = 'LVIT_BENCH_GLIBC_REEXEC';
const PARENT_PID = 'LVIT_BENCH_PARENT_PID';

/** Whether `value` already sets both tunables (a user's own values for them are respected). */
export function hasGlibcTunables(value: string | undefined): boolean {
  if (!value) return false;
  const keys = value.split(':').map((entry) => entry.split('=')[0]);
  return GLIBC_TUNABLES_VALUE.split(':').every((entry) => keys.includes(entry.split('=')[0]));
}

/** `current` with the missing tunables appended. */
export function mergeGlibcTunables(current: string | undefined): string {
  if (!current) return GLIBC_TUNABLES_VALUE;
  const keys = current.split(':').map((entry) => entry.split('=')[0]);
  const missing = GLIBC_TUNABLES_VALUE.split(':').filter((entry) => !keys.includes(entry.split('=')[0]));
  return [current, ...missing].join(':');
}

/** What `ensureGlibcTunables` touches, injectable so tests can run it without re-executing vitest. */
export interface ReexecDeps {
  platform: NodeJS.Platform;
  env: NodeJS.ProcessEnv;
  execPath: string;
  args: string[];
  spawn: typeof spawnSync;
  exit: (code: number) => never;
}

/**
 * Entry points call this first. On Linux, when GLIBC_TUNABLES lacks the values above, it runs the
 * same program again (same node flags, argv and environment plus the tunables) with inherited
 * stdio, waits for it synchronously and exits with its exit code (128 + signal number when the
 * child was killed). No-op elsewhere, when already set, or inside the re-executed child (so it
 * can never loop).
 */
export function ensureGlibcTunables(deps: Partial<ReexecDeps> = {}): void {
  const d: ReexecDeps = {
    platform: process.platform,
    env: process.env,
    execPath: process.execPath,
    args: [...process.execArgv, ...process.argv.slice(1)],
    spawn: spawnSync,
    exit: (code) => process.exit(code),
    ...deps,
  };
  if (d.platform !== 'linux') return;
  if (d.env[REEXEC_MARKER] === '1') {
    if (d.env[PARENT_PID]) dieWithParent(Number(d.env[PARENT_PID]));
    return;
  }
  if (hasGlibcTunables(d.env.GLIBC_TUNABLES)) return;
  const result = d.spawn(d.execPath, d.args, {
    stdio: 'inherit',
    env: { ...d.env, GLIBC_TUNABLES: mergeGlibcTunables(d.env.GLIBC_TUNABLES), [REEXEC_MARKER]: '1', [PARENT_PID]: String(process.pid) },
  });
  if (result.error) {
    throw new Error(`engine/glibc.ts: could not re-exec ${d.execPath} with GLIBC_TUNABLES: ${result.error.message}`);
  }
  if (result.signal) d.exit(128 + (constants.signals[result.signal] ?? 0));
  d.exit(result.status ?? 1);
}

/**
 * The re-executed child must not outlive the process that started it: a `kill`, `timeout` or job
 * scheduler signals only the parent (which waits in spawnSync and dies), and a child left running
 * would go on writing its run folder beside a new run. A worker thread, independent of the main
 * thread's long synchronous kernels, checks twice a second that the parent is still ours and
 * otherwise ends this process with SIGTERM (files are written atomically, so nothing is torn).
 */
function dieWithParent(parentPid: number): void {
  if (process.ppid !== parentPid) process.kill(process.pid, 'SIGTERM');
  const watchdog = new Worker(
    `const { workerData } = require('node:worker_threads');
     setInterval(() => { if (process.ppid !== workerData.parentPid) process.kill(process.pid, 'SIGTERM'); }, 500);`,
    { eval: true, workerData: { parentPid } },
  );
  watchdog.unref();
}
