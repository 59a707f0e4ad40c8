import { readFileSync } from 'node:fs';

/**
 * `npx turbo run reproduce --profile smoke` hands `--profile` to turbo itself (its trace-file
 * option), not to this script. When we were launched under such a turbo, read the profile name
 * from its command line so that the command does what it says; `-- --profile smoke` is the
 * unambiguous form. Linux only (reads /proc); returns undefined elsewhere or when absent.
 */
export function profileFromTurboAncestor(): string | undefined {
  let pid = process.ppid;
  for (let depth = 0; depth < 8 && pid > 1; depth++) {
    const args = readProcArgs(pid);
    if (!args) return undefined;
    if (isTurbo(args)) return profileFromTurboArgs(args);
    pid = parentOf(pid) ?? 0;
  }
  return undefined;
}

function isTurbo(args: string[]): boolean {
  return args.some((a) => /(^|\/)turbo(\.exe)?$/.test(a) || a.includes('/turbo/bin/turbo'));
}

/**
 * The value of `--profile` on turbo's command line, whatever it is: an unknown name (a typo such as
 * `smok`) must reach `getProfile` and fail there, not fall back to the default profile.
 */
export function profileFromTurboArgs(args: readonly string[]): string | undefined {
  const i = args.indexOf('--profile');
  const value = i >= 0 ? args[i + 1] : args.find((a) => a.startsWith('--profile='))?.slice('--profile='.length);
  return value || undefined;
}

function readProcArgs(pid: number): string[] | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  } catch {
    return undefined;
  }
}

function parentOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 4 (ppid) follows the parenthesised command name, which may itself hold spaces.
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return undefined;
  }
}
