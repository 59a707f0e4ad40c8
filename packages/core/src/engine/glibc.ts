import { spawnSync } from 'node:child_process';
import { constants } from 'node:os';

/**
 * On this class of VM, first-touch page faults cost 3-5 ms per MB and freed memory goes back to
 * the host, so every large glibc allocation pays again (ENGINE.md §1.1b). These tunables keep
 * freed memory inside the process: up to 10x for anything using glibc malloc (ORT, the cpu
 * backend's ArrayBuffers, dataSync copies), no cost on wasm. glibc reads the variable only at
 * process start, hence the re-exec.
 */
export const GLIBC_TUNABLES_VALUE = 'glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=68719476736';

const REEXEC_MARKER = 'LVIT_BENCH_GLIBC_REEXEC';

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
  if (hasGlibcTunables(d.env.GLIBC_TUNABLES) || d.env[REEXEC_MARKER] === '1') return;
  const result = d.spawn(d.execPath, d.args, {
    stdio: 'inherit',
    env: { ...d.env, GLIBC_TUNABLES: mergeGlibcTunables(d.env.GLIBC_TUNABLES), [REEXEC_MARKER]: '1' },
  });
  if (result.error) {
    throw new Error(`engine/glibc.ts: could not re-exec ${d.execPath} with GLIBC_TUNABLES: ${result.error.message}`);
  }
  if (result.signal) d.exit(128 + (constants.signals[result.signal] ?? 0));
  d.exit(result.status ?? 1);
}
