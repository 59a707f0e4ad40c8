import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * Atomic file writes: readers see the old file or the complete new one, never a torn one, and a
 * crash mid-write leaves the previous version in place. Every file the suite produces (checkpoints,
 * results, manifests, caches, figures) goes through here.
 */

const TEMP_MARK = '.tmp-';
const TEMP_NAME = /^\..+\.tmp-\d+-[0-9a-f]{8}$/;

/**
 * Delete the temp files that writers killed mid-write left in `dir` and its subfolders, and return
 * their paths. Only for a folder no live process writes (e.g. a run folder whose lock is held).
 */
export function removeTornWrites(dir: string): string[] {
  const removed: string[] = [];
  if (!fs.existsSync(dir)) return removed;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) removed.push(...removeTornWrites(p));
    else if (entry.isFile() && TEMP_NAME.test(entry.name)) {
      fs.rmSync(p);
      removed.push(p);
    }
  }
  return removed;
}

/** Write `file` through `write(fd)`: a unique temp file in the same folder, fsync, rename over `file`. */
export function writeFileAtomicWith(file: string, write: (fd: number) => void): void {
  const dir = path.dirname(file);
  fs.mkdirSync(dir, { recursive: true });
  const tmp = path.join(dir, `.${path.basename(file)}${TEMP_MARK}${process.pid}-${randomBytes(4).toString('hex')}`);
  const fd = fs.openSync(tmp, 'w');
  try {
    write(fd);
    fs.fsyncSync(fd);
  } catch (err) {
    fs.closeSync(fd);
    fs.rmSync(tmp, { force: true });
    throw err;
  }
  fs.closeSync(fd);
  fs.renameSync(tmp, file);
  fsyncDirectory(dir);
}

/** Write all of `data` to `file` atomically. */
export function writeFileAtomic(file: string, data: string | Uint8Array): void {
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  writeFileAtomicWith(file, (fd) => writeAll(fd, bytes));
}

/** Pretty-printed JSON, atomically. */
export function writeJsonAtomic(file: string, value: unknown): void {
  writeFileAtomic(file, JSON.stringify(value, null, 2) + '\n');
}

/** Loop until every byte is written (a single writeSync may write less). */
export function writeAll(fd: number, bytes: Uint8Array): void {
  let done = 0;
  while (done < bytes.byteLength) done += fs.writeSync(fd, bytes, done, bytes.byteLength - done);
}

function fsyncDirectory(dir: string): void {
  try {
    const fd = fs.openSync(dir, 'r');
    try {
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    // Some platforms cannot fsync a directory; the rename itself is still atomic.
  }
}
