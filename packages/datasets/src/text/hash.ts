import { createHash } from 'node:crypto';
import { createReadStream, statSync } from 'node:fs';
import { relative } from 'node:path';

const fileHashes = new Map<string, string>();

/** sha256 of one file, streamed; remembered per (path, size, mtime) for the life of the process. */
export async function sha256File(path: string): Promise<string> {
  const st = statSync(path);
  const memoKey = `${path}\0${st.size}\0${st.mtimeMs}`;
  const known = fileHashes.get(memoKey);
  if (known) return known;
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  const digest = hash.digest('hex');
  fileHashes.set(memoKey, digest);
  return digest;
}

/** One sha256 over several files (names relative to `root`, then each file's own hash). */
export async function sha256Files(root: string, paths: string[]): Promise<string> {
  const hash = createHash('sha256');
  for (const p of paths) hash.update(`${relative(root, p)}\0${await sha256File(p)}\n`);
  return hash.digest('hex');
}
