import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeFileAtomic, writeFileAtomicWith, writeJsonAtomic } from './atomic.js';

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
});
