import { describe, expect, it } from 'vitest';
import { childFailure, runChild } from './child.js';

describe('runChild', () => {
  it('stops a child at its budget and says so', async () => {
    const o = await runChild(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { timeoutMs: 300, log: () => {} });
    expect(o.timedOut).toBe(true);
    expect(o.ms).toBeLessThan(5000);
    expect(childFailure(o, 0.3)).toBe('stopped at its 0 s budget');
  });

  it('keeps stdout and names the error line of a failed child', async () => {
    const lines: string[] = [];
    const o = await runChild(process.execPath, ['-e', 'console.log("out"); console.error("note"); console.error("Error: boom"); console.error("at x"); process.exit(4)'], { timeoutMs: 10_000, log: (l) => lines.push(l) });
    expect(o).toMatchObject({ code: 4, timedOut: false, stdout: 'out\n' });
    expect(lines).toEqual(['  | note', '  | Error: boom', '  | at x']);
    expect(childFailure(o, 10)).toBe('exit 4: Error: boom');
  });

  it('stops a child once a line of either stream matches', async () => {
    const o = await runChild(process.execPath, ['-e', 'console.log("loading"); console.log("ready"); setInterval(() => {}, 1000)'], { timeoutMs: 10_000, log: () => {}, stopWhen: (l) => l === 'ready' });
    expect(o).toMatchObject({ stopped: true, timedOut: false, signal: 'SIGTERM' });
    expect(o.stdout).toContain('ready');
  });

  it('reports a command that cannot start', async () => {
    const o = await runChild('/nonexistent/python3', [], { timeoutMs: 1000, log: () => {} });
    expect(childFailure(o, 1)).toMatch(/^exit null: cannot start \/nonexistent\/python3: .*ENOENT/);
  });
});
