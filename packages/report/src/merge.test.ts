/**
 * One report from several runs folders (`report --runs a,b`, e.g. one per machine of a sharded
 * matrix), and the clean-up of staging folders a killed build left beside the site.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildReport } from './build.js';
import { loadRuns } from './load.js';
import { runDir, STANDARD_RUNS, writeFixtureRuns } from './fixtures.test-util.js';

const NOW = new Date('2026-02-03T04:05:06Z');
const tmp = mkdtempSync(join(tmpdir(), 'lvit-merge-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Machine A ran the U-Net runs, machine B the others. */
async function twoMachines(name: string): Promise<[string, string]> {
  const [a, b] = [join(tmp, name, 'runs-a'), join(tmp, name, 'runs-b')];
  await writeFixtureRuns(a, STANDARD_RUNS.filter((r) => r.model === 'unet'));
  await writeFixtureRuns(b, STANDARD_RUNS.filter((r) => r.model !== 'unet'));
  return [a, b];
}

describe('merging runs folders', () => {
  it('reports the runs of every folder, each with the folder it came from', async () => {
    const [a, b] = await twoMachines('disjoint');
    const merged = await buildReport({ runsDir: [a, b], outDir: join(tmp, 'disjoint', 'site'), now: NOW });
    const single = await buildReport({ runsDir: join(tmp, 'disjoint'), outDir: join(tmp, 'disjoint', 'site-single'), now: NOW });
    expect(merged.runs).toHaveLength(STANDARD_RUNS.length);
    expect(merged.skipped).toEqual([]);
    for (const run of merged.runs) expect(run.runsRoot).toBe(run.result.model === 'unet' ? a : b);
    // The same tables as one report over a folder holding both (run anchors aside: they follow the folders).
    const numbers = (t: unknown) => JSON.parse(JSON.stringify(t, (k, v) => (k === 'anchor' ? undefined : v)));
    expect(numbers(merged.tables)).toEqual(numbers(single.tables));
    expect(merged.tables.flatMap((t) => t.rows)).toHaveLength(3);
    const html = readFileSync(merged.indexHtml, 'utf8');
    expect(html).toContain('under <code>runs-a, runs-b</code>');
    expect(html).toContain('(folder <code>smoke/monuseg/unet/f100/s1</code> under <code>runs-a</code>)');
    expect(html).toContain('(folder <code>smoke/monuseg/lvit-t/f100/s2</code> under <code>runs-b</code>)');
  });

  it('counts a run found with identical results in two folders once, and says so', async () => {
    const [a, b] = await twoMachines('identical');
    const copied = runDir(b, STANDARD_RUNS[0]);
    cpSync(runDir(a, STANDARD_RUNS[0]), copied, { recursive: true }); // B also holds A's first run
    const { runs, skipped } = loadRuns([a, b]);
    expect(runs).toHaveLength(STANDARD_RUNS.length);
    expect(runs.find((r) => r.result.runId === 'smoke/monuseg/unet/f100/s1')!.file).toBe(join(runDir(a, STANDARD_RUNS[0]), 'result.json'));
    expect(skipped).toEqual([{ file: join(copied, 'result.json'), reason: `identical to ${join(runDir(a, STANDARD_RUNS[0]), 'result.json')}, counted once` }]);
  });

  it('refuses two different results of one run in two folders, naming both files', async () => {
    const [a, b] = await twoMachines('conflict');
    const other = runDir(b, STANDARD_RUNS[0]);
    mkdirSync(other, { recursive: true });
    const result = JSON.parse(readFileSync(join(runDir(a, STANDARD_RUNS[0]), 'result.json'), 'utf8'));
    result.test.dice = 0.5; // trained again elsewhere, with another outcome
    writeFileSync(join(other, 'result.json'), JSON.stringify(result));
    const both = `${join(runDir(a, STANDARD_RUNS[0]), 'result.json')} and ${join(other, 'result.json')} are different results of the same run (smoke/monuseg/unet/f100/s1; they differ at test.dice)`;
    expect(() => loadRuns([a, b])).toThrow(both);
    await expect(buildReport({ runsDir: [a, b], outDir: join(tmp, 'conflict', 'site'), now: NOW })).rejects.toThrow(both);
    expect(existsSync(join(tmp, 'conflict', 'site'))).toBe(false);
  });

  it('reads a folder named twice once', async () => {
    const [a] = await twoMachines('twice');
    expect(loadRuns([a, join(a, '.')]).runs).toHaveLength(2);
  });
});

describe('staging folders of a killed build', () => {
  it('are removed by the next build into the same site; a live build’s and unrelated folders are kept', async () => {
    const dir = join(tmp, 'leftovers');
    await writeFixtureRuns(join(dir, 'runs'), STANDARD_RUNS.slice(0, 1));
    const dead = spawnSync(process.execPath, ['-e', '']).pid!; // has exited: its pid runs nothing now
    const abandoned = [`site.tmp-${dead}-1700000000000`, `site.old-${dead}-1700000000001`];
    const kept = [`site.tmp-${process.pid}-1700000000002`, 'site.tmp-notes', `other.tmp-${dead}-1700000000003`];
    for (const name of [...abandoned, ...kept]) {
      mkdirSync(join(dir, name, 'assets'), { recursive: true });
      writeFileSync(join(dir, name, 'index.html'), 'half a site');
    }
    const outcome = await buildReport({ runsDir: join(dir, 'runs'), outDir: join(dir, 'site'), now: NOW });
    expect(outcome.removedLeftovers.sort()).toEqual(abandoned.map((n) => join(dir, n)).sort());
    expect(readdirSync(dir).sort()).toEqual(['runs', 'site', ...kept].sort());
    expect(readFileSync(join(dir, 'site', 'index.html'), 'utf8')).toContain('smoke/monuseg/unet/f100/s1');
  });
});
