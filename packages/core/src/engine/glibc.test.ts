import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { ensureGlibcTunables, GLIBC_TUNABLES_VALUE, hasGlibcTunables, mergeGlibcTunables, type ReexecDeps } from './glibc.js';

class Exit extends Error {
  constructor(readonly code: number) {
    super(`exit ${code}`);
  }
}

function fakeDeps(env: NodeJS.ProcessEnv, child: Partial<ReturnType<typeof spawnSync>>) {
  const calls: { cmd: string; args: readonly string[]; env: NodeJS.ProcessEnv; stdio: unknown }[] = [];
  const deps: Partial<ReexecDeps> = {
    platform: 'linux',
    env,
    execPath: '/usr/bin/node',
    args: ['--enable-source-maps', 'dist/bench.js', '--reps', '3'],
    spawn: ((cmd: string, args: readonly string[], opts: { env: NodeJS.ProcessEnv; stdio: unknown }) => {
      calls.push({ cmd, args, env: opts.env, stdio: opts.stdio });
      return { status: 0, signal: null, ...child };
    }) as unknown as typeof spawnSync,
    exit: ((code: number) => {
      throw new Exit(code);
    }) as (code: number) => never,
  };
  return { deps, calls };
}

describe('GLIBC_TUNABLES re-exec', () => {
  it('recognises and merges the tunables', () => {
    expect(hasGlibcTunables(undefined)).toBe(false);
    expect(hasGlibcTunables('glibc.malloc.mmap_max=0')).toBe(false);
    expect(hasGlibcTunables(GLIBC_TUNABLES_VALUE)).toBe(true);
    expect(hasGlibcTunables('glibc.malloc.trim_threshold=1:glibc.malloc.mmap_max=5')).toBe(true);
    expect(mergeGlibcTunables(undefined)).toBe(GLIBC_TUNABLES_VALUE);
    expect(mergeGlibcTunables('glibc.malloc.mmap_max=7')).toBe('glibc.malloc.mmap_max=7:glibc.malloc.trim_threshold=68719476736');
  });

  it('re-executes the same argv with the tunables and forwards the exit code', () => {
    const { deps, calls } = fakeDeps({ PATH: '/bin', FOO: 'bar' }, { status: 3 });
    expect(() => ensureGlibcTunables(deps)).toThrow(new Exit(3));
    expect(calls).toHaveLength(1);
    expect(calls[0].cmd).toBe('/usr/bin/node');
    expect(calls[0].args).toEqual(['--enable-source-maps', 'dist/bench.js', '--reps', '3']);
    expect(calls[0].stdio).toBe('inherit');
    expect(calls[0].env.GLIBC_TUNABLES).toBe(GLIBC_TUNABLES_VALUE);
    expect(calls[0].env.FOO).toBe('bar');
  });

  it('maps a child killed by a signal to 128 + signal number', () => {
    const { deps } = fakeDeps({}, { status: null, signal: 'SIGTERM' });
    expect(() => ensureGlibcTunables(deps)).toThrow(new Exit(143));
  });

  it('does nothing when set, inside the child, or off Linux', () => {
    for (const [env, platform] of [
      [{ GLIBC_TUNABLES: GLIBC_TUNABLES_VALUE }, 'linux'],
      [{ LVIT_BENCH_GLIBC_REEXEC: '1' }, 'linux'],
      [{}, 'darwin'],
    ] as const) {
      const { deps, calls } = fakeDeps({ ...env }, {});
      ensureGlibcTunables({ ...deps, platform });
      expect(calls).toHaveLength(0);
    }
  });
});
