/**
 * Where the data and the prepared-dataset cache live. One place decides, so every CLI and test
 * finds the same folders: an explicit flag wins, then an environment variable, then a search.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const MODULE_DIR = dirname(fileURLToPath(import.meta.url));
const REPO_PACKAGE_NAME = 'lvit-bench';

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/** `start`, its parent, its grandparent, ... up to the file-system root. */
function ancestors(start: string): string[] {
  const dirs: string[] = [];
  let dir = resolve(start);
  for (;;) {
    dirs.push(dir);
    const parent = dirname(dir);
    if (parent === dir) return dirs;
    dir = parent;
  }
}

/**
 * The data root (the folder holding `monuseg/` and `qata/`).
 * Order: `flag` > env `LVIT_DATA_ROOT` > the nearest `shared/data` walking up from the current
 * directory, then from this module's directory (CI clones the repo beside `shared/`).
 */
export function resolveDataRoot(flag?: string): string {
  if (flag !== undefined && flag !== '') {
    const path = resolve(flag);
    if (!isDirectory(path)) throw new Error(`data root ${path} (from the flag) is not a directory`);
    return path;
  }
  const env = process.env.LVIT_DATA_ROOT;
  if (env !== undefined && env !== '') {
    const path = resolve(env);
    if (!isDirectory(path)) throw new Error(`data root ${path} (from LVIT_DATA_ROOT) is not a directory`);
    return path;
  }
  const tried: string[] = [];
  for (const start of [process.cwd(), MODULE_DIR]) {
    for (const dir of ancestors(start)) {
      const candidate = join(dir, 'shared', 'data');
      if (isDirectory(candidate)) return candidate;
      tried.push(candidate);
    }
  }
  throw new Error(
    'no data root found: pass --data-root, or set LVIT_DATA_ROOT, or place shared/data beside the repo. ' +
      `Tried: ${[...new Set(tried)].join(', ')}`,
  );
}

/** The repository root: the nearest folder whose package.json is named `lvit-bench`. */
export function findRepoRoot(): string | undefined {
  for (const start of [MODULE_DIR, process.cwd()]) {
    for (const dir of ancestors(start)) {
      const pkg = join(dir, 'package.json');
      if (!existsSync(pkg)) continue;
      try {
        if ((JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === REPO_PACKAGE_NAME) return dir;
      } catch {
        // An unreadable package.json is not the repo root; keep walking.
      }
    }
  }
  return undefined;
}

/** The cache folder for prepared datasets: `flag` > env `LVIT_CACHE_DIR` > `<repo root>/.cache`. */
export function resolveCacheDir(flag?: string): string {
  if (flag !== undefined && flag !== '') return resolve(flag);
  const env = process.env.LVIT_CACHE_DIR;
  if (env !== undefined && env !== '') return resolve(env);
  const root = findRepoRoot();
  if (root === undefined) {
    throw new Error(
      `no cache dir: pass --cache-dir or set LVIT_CACHE_DIR (no package.json named "${REPO_PACKAGE_NAME}" ` +
        `above ${MODULE_DIR} or ${process.cwd()})`,
    );
  }
  return join(root, '.cache');
}
