import { execFileSync } from 'node:child_process';
import { findRepoRoot } from '@lvit-bench/datasets';

/** The lvit-bench checkout this code runs from (or the working directory is in). */
export function repoRoot(): string {
  const root = findRepoRoot();
  if (!root) throw new Error(`No lvit-bench checkout (package.json named lvit-bench) above ${process.cwd()} or this script`);
  return root;
}

/** Commit hash and whether the work tree differs from it; 'unknown' outside a git checkout. */
export function gitState(root: string): { commit: string; dirty: boolean } {
  try {
    const commit = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const status = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    return { commit, dirty: status.trim().length > 0 };
  } catch {
    return { commit: 'unknown', dirty: false };
  }
}
