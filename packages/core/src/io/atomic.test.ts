import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { removeTornWrites, writeFileAtomic, writeFileAtomicWith, writeJsonAtomic } from './atomic.js';

describe('atomic writes', () => {
  it('writes text, bytes and JSON, creating folders and leaving no temp files', () => {
    const dir = mkdtempSync(join(tmpdir(), 'atomic-'));
    writeFileAtomic(join(dir, 'a/b.txt'), 'hello');
    writeFileAtomic(join(dir, 'a/c.bin'), new Uint8Array([1, 2, 3]));
    writeJsonAtomic(join(dir, 'a/d.json'), { x: 1 });
    expect(readFileSync(join(dir, 'a/b.txt'), 'utf8')).toBe('hello');
    expect([...readFileSync(join(dir, 'a/c.bin'))]).toEqual([1, 2, 3]);
    expect(JSON.parse(readFileSync(join(dir, 'a/d.json'), 'utf8'))).toEqual({ x: 1 });
    expect(readdirSync(join(dir, 'a')).sort()).toEqual(['b.txt', 'c.bin', 'd.json']);
  });

  it('keeps the previous content when the writer fails midway', () => {
    const dir = mkdtempSync(join(tmpdir(), 'atomic-'));
    const file = join(dir, 'f.txt');
    writeFileSync(file, 'old');
    expect(() =>
      writeFileAtomicWith(file, (fd) => {
        writeFileSync(fd, 'partial');
        throw new Error('disk full');
      }),
    ).toThrow('disk full');
    expect(readFileSync(file, 'utf8')).toBe('old');
    expect(readdirSync(dir)).toEqual(['f.txt']);
  });

  it('removes the temp files a killed writer left, and nothing else', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lvit-torn-'));
    fs.mkdirSync(path.join(dir, 'checkpoint'));
    const torn = [path.join(dir, '.result.json.tmp-123-0a1b2c3d'), path.join(dir, 'checkpoint', '.last.tmp-9-ffffffff')];
    const kept = [path.join(dir, 'result.json'), path.join(dir, '.hidden'), path.join(dir, 'x.tmp-1-0a1b2c3d')];
    for (const f of [...torn, ...kept]) fs.writeFileSync(f, 'x');
    expect(removeTornWrites(dir).sort()).toEqual([...torn].sort());
    for (const f of kept) expect(fs.existsSync(f)).toBe(true);
    for (const f of torn) expect(fs.existsSync(f)).toBe(false);
    fs.rmSync(dir, { recursive: true });
  });
});
