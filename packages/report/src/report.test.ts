import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildReport, type BuildReportOutcome } from './build.js';
import { compareRows } from './findings.js';
import { findResultFiles, loadRuns } from './load.js';
import { findPublished, resultModelLabel } from './published.js';
import { boundary } from './qualitative.js';
import { jsonForScript } from './results-json.js';
import type { ComparisonRow } from './tables.js';
import { STANDARD_RUNS, writeFixtureRuns, type FixtureRun } from './fixtures.test-util.js';

const NOW = new Date('2026-02-03T04:05:06Z');
let tmp: string;
let runsDir: string;
let outDir: string;
let outcome: BuildReportOutcome;
let html: string;

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'lvit-report-'));
  runsDir = join(tmp, 'runs');
  outDir = join(tmp, 'site');
  await writeFixtureRuns(runsDir, STANDARD_RUNS);
  outcome = await buildReport({ runsDir, outDir, now: NOW });
  html = readFileSync(outcome.indexHtml, 'utf8');
});

afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Independent reference: read the fixture files and compute mean and sample std with plain loops. */
function referenceStats(model: string, fraction: number): { n: number; dice: [number, number]; iou: [number, number]; seeds: number[] } {
  const results = findResultFiles(runsDir)
    .map((f) => JSON.parse(readFileSync(f, 'utf8')))
    .filter((r) => r.model === model && r.labelFraction === fraction)
    .sort((a, b) => a.seed - b.seed);
  const stats = (values: number[]): [number, number] => {
    let sum = 0;
    for (const v of values) sum += v;
    const mean = sum / values.length;
    let sq = 0;
    for (const v of values) sq += (v - mean) * (v - mean);
    return [mean, values.length > 1 ? Math.sqrt(sq / (values.length - 1)) : NaN];
  };
  return {
    n: results.length,
    dice: stats(results.map((r) => 100 * r.test.dice)),
    iou: stats(results.map((r) => 100 * r.test.iou)),
    seeds: results.map((r) => r.seed),
  };
}

function row(model: string, fraction: number): ComparisonRow {
  const found = outcome.tables.flatMap((t) => t.rows).find((r) => r.model === model && r.labelPercent === fraction);
  if (!found) throw new Error(`no row for ${model} f${fraction}`);
  return found;
}

describe('comparison tables', () => {
  it('finds every fixture run', () => {
    expect(outcome.runs).toHaveLength(STANDARD_RUNS.length);
    expect(outcome.skipped).toEqual([]);
    expect(outcome.tables.map((t) => t.dataset)).toEqual(['monuseg']);
  });

  it.each([
    ['unet', 100],
    ['lvit-t', 100],
  ] as const)('%s f%i: mean ± std over seeds equal an independent computation from the files', (model, fraction) => {
    const ref = referenceStats(model, fraction);
    const r = row(model, fraction);
    expect(r.n).toBe(2);
    expect(r.perSeed.map((s) => s.seed)).toEqual(ref.seeds);
    expect(r.dice.mean).toBeCloseTo(ref.dice[0], 10);
    expect(r.dice.std!).toBeCloseTo(ref.dice[1], 10);
    expect(r.iou.mean).toBeCloseTo(ref.iou[0], 10);
    expect(r.iou.std!).toBeCloseTo(ref.iou[1], 10);
    // The page shows the same numbers, mean ± std with two decimals.
    expect(html).toContain(`${ref.dice[0].toFixed(2)} ± ${ref.dice[1].toFixed(2)}`);
    expect(html).toContain(`${ref.iou[0].toFixed(2)} ± ${ref.iou[1].toFixed(2)}`);
  });

  it('computes the difference to the published number in points', () => {
    const ref = referenceStats('unet', 100);
    const r = row('unet', 100);
    expect(r.published?.dice).toBe(76.45);
    expect(r.diffDice!).toBeCloseTo(ref.dice[0] - 76.45, 10);
    expect(r.diffIoU!).toBeCloseTo(ref.iou[0] - 62.86, 10);
  });

  it('shows published numbers with their sources', () => {
    expect(html).toContain('76.45 / 62.86'); // MoNuSeg U-Net, verified README
    // A plain lvit-t run trains from scratch: its MoNuSeg counterpart is the no-pretraining row.
    expect(html).toContain('79.98 / 66.83'); // MoNuSeg LViT-T without U-Net pretraining, verified README
    expect(html).toContain('80.36'); // MoNuSeg LViT-T with U-Net pretraining, in the published list
    expect(html).toContain('verified: official LViT README');
    // QaTa has no runs here: its published numbers are still listed, with the secondary label.
    expect(html).toContain('id="ds-qata"');
    expect(html).toContain('secondary source');
    expect(html).toContain('80.95'); // QaTa LViT-T 25%, secondary
    // A cell given by several sources shows the preferred one and names the others.
    expect(html).toContain('also in (secondary source)');
  });

  it('says "not published" where RESULTS.md has no number', () => {
    const r = row('lvit-tw', 50);
    expect(r.published).toBeNull();
    expect(r.verdict).toBe('not-published');
    const tableRow = html.split('<tr').find((tr) => tr.includes('>LViT-TW</td><td class="num">50%'));
    expect(tableRow).toBeDefined();
    expect(tableRow).toContain('not published here');
  });

  it('labels a single seed as unable to show a difference', () => {
    const r = row('lvit-tw', 50);
    expect(r.n).toBe(1);
    expect(r.dice.std).toBeNull();
    expect(html).toContain('single seed');
  });

  it('marks reduced profiles with a badge and the full-compute note', () => {
    expect(html).toContain('<span class="badge reduced"');
    expect(html).toContain('The published numbers are full-compute');
    expect(row('unet', 100).reduced).toBe(true);
  });

  it('links every number of ours to a section of the page that exists', () => {
    const ids = new Set([...html.matchAll(/ id="([^"]+)"/g)].map((m) => m[1]));
    const links = [...html.matchAll(/href="#([^"]+)"/g)].map((m) => m[1]);
    expect(links.length).toBeGreaterThan(10);
    for (const link of links) expect(ids.has(link), `#${link}`).toBe(true);
    for (const run of outcome.runs) {
      expect(html).toContain(`href="#${run.anchor}"`);
      const section = html.slice(html.indexOf(`id="${run.anchor}"`));
      for (const fact of ['Backend', 'Device', 'Text encoder', 'Git commit', 'Data manifest hash', 'label manifest', 'Wall time', 'Epochs']) {
        expect(section.slice(0, 4000)).toContain(fact);
      }
    }
  });

  it('escapes text from result files', () => {
    expect(html).not.toContain('<b>&amp;</b>');
    expect(html).toContain('&lt;b&gt;&amp;amp;&lt;/b&gt;');
  });
});

describe('written files', () => {
  it('writes tables.csv with one line per row and the same numbers', () => {
    const csv = readFileSync(join(outDir, 'tables.csv'), 'utf8').trim().split('\n');
    const header = csv[0].split(',');
    expect(csv).toHaveLength(1 + 3);
    const rows = csv.slice(1).map((line) => Object.fromEntries(parseCsvLine(line).map((v, i) => [header[i], v])));
    const unet = rows.find((r) => r.model === 'unet')!;
    const ref = referenceStats('unet', 100);
    expect(Number(unet.dice_mean)).toBeCloseTo(ref.dice[0], 3);
    expect(Number(unet.dice_std)).toBeCloseTo(ref.dice[1], 3);
    expect(unet.published_source).toBe('verified: official LViT README');
    expect(unet.reduced).toBe('true');
    const tw = rows.find((r) => r.model === 'lvit-tw')!;
    expect(tw.published_source).toBe('not published here');
    expect(tw.dice_std).toBe('');
  });

  it('writes tables.md with one table per dataset', () => {
    const md = readFileSync(join(outDir, 'tables.md'), 'utf8');
    expect(md).toContain('## MoNuSeg');
    expect(md).toContain('| Model | Labels | Profile |');
    expect(md).toContain('smoke (*reduced*)');
    expect(md).toContain('not published');
    expect(md).toContain('76.45');
  });

  it('writes results.json, the chart.js UMD build, overlays and logs', () => {
    const results = JSON.parse(readFileSync(join(outDir, 'results.json'), 'utf8'));
    expect(results.schema).toBe('lvit-bench/report@1');
    expect(results.runs).toHaveLength(STANDARD_RUNS.length);
    expect(readFileSync(join(outDir, 'assets', 'chart.umd.min.js'), 'utf8')).toContain('Chart.js v4.6.1');
    const qual = readdirSync(join(outDir, 'assets', 'qual', 'monuseg', 'smoke'), { recursive: true }).map(String);
    expect(qual.filter((f) => f.endsWith('.png')).length).toBe(2 * (2 + 3)); // 2 images × (image, gt, 3 groups)
    expect(readdirSync(join(outDir, 'assets', 'logs'))).toHaveLength(STANDARD_RUNS.length);
    expect(html).not.toMatch(/(src|href)="(https?:)?\/\//); // nothing from the network
  });
});

describe('findings', () => {
  it('calls a non-overlapping difference established, with the reduced caveat', () => {
    const f = outcome.findings.find((x) => x.model === 'lvit-t' && x.against === 'unet');
    expect(f).toBeDefined();
    expect(f!.established).toBe(true);
    expect(f!.sentence).toContain('do not overlap');
    expect(f!.sentence).toContain('reduced');
    expect(html).toContain(f!.sentence.slice(0, 60));
  });

  it('calls overlapping spreads and single seeds not established', () => {
    const base = row('unet', 100);
    const overlapping: ComparisonRow = { ...row('lvit-t', 100), dice: { ...base.dice, mean: base.dice.mean + 0.5 } };
    const a = compareRows(overlapping, base);
    expect(a.established).toBe(false);
    expect(a.sentence).toContain('not established');
    const single: ComparisonRow = { ...row('lvit-t', 100), n: 1, dice: { n: 1, mean: 99, std: null, min: 99, max: 99 } };
    const b = compareRows(single, base);
    expect(b.established).toBe(false);
    expect(b.sentence).toContain('single seed cannot show a difference');
  });
});

describe('edge cases', () => {
  it('builds a page that says so when there are no runs', async () => {
    const empty = join(tmp, 'empty-runs');
    mkdirSync(empty, { recursive: true });
    const res = await buildReport({ runsDir: empty, outDir: join(tmp, 'empty-site'), now: NOW });
    const page = readFileSync(res.indexHtml, 'utf8');
    expect(res.tables).toEqual([]);
    expect(page).toContain('No result files were found');
    expect(page).toContain('76.45'); // published reference still shown
    expect(page).not.toContain('<canvas');
    expect(readFileSync(join(tmp, 'empty-site', 'tables.csv'), 'utf8').trim().split('\n')).toHaveLength(1);
  });

  it('lists a broken result file as not used instead of failing', async () => {
    const dir = join(tmp, 'broken-runs');
    await writeFixtureRuns(dir, STANDARD_RUNS.slice(0, 1));
    mkdirSync(join(dir, 'smoke', 'x'), { recursive: true });
    writeFileSync(join(dir, 'smoke', 'x', 'result.json'), '{"schema": "something-else"}');
    const res = await buildReport({ runsDir: dir, outDir: join(tmp, 'broken-site'), now: NOW });
    expect(res.runs).toHaveLength(1);
    expect(res.skipped).toHaveLength(1);
    expect(readFileSync(res.indexHtml, 'utf8')).toContain('expected &quot;lvit-bench/run@1&quot;');
  });

  it('keeps only the chosen profile and shows no reduced badge for a full profile', async () => {
    const dir = join(tmp, 'two-profiles');
    const full: FixtureRun = { ...STANDARD_RUNS[0], profile: 'paper', reduced: false };
    await writeFixtureRuns(dir, [full, STANDARD_RUNS[1]]);
    const res = await buildReport({ runsDir: dir, outDir: join(tmp, 'paper-site'), profile: 'paper', now: NOW });
    expect(res.runs.map((r) => r.result.profile.name)).toEqual(['paper']);
    const page = readFileSync(res.indexHtml, 'utf8');
    expect(page).not.toContain('class="badge reduced"');
    expect(page).toContain('single seed');
  });

  it('refuses to replace a folder it did not write, and replaces its own', async () => {
    const foreign = join(tmp, 'foreign');
    mkdirSync(foreign, { recursive: true });
    writeFileSync(join(foreign, 'keep.txt'), 'important');
    await expect(buildReport({ runsDir, outDir: foreign })).rejects.toThrow(/refusing to replace/);
    expect(readFileSync(join(foreign, 'keep.txt'), 'utf8')).toBe('important');
    writeFileSync(join(outDir, 'stale.txt'), 'old');
    await buildReport({ runsDir, outDir, now: NOW });
    expect(existsSync(join(outDir, 'stale.txt'))).toBe(false);
    expect(readdirSync(tmp).filter((f) => f.includes('.tmp-') || f.includes('.old-'))).toEqual([]);
  });

  it('uses the later of two result files for the same run', async () => {
    const dir = join(tmp, 'dupes');
    const [first] = await writeFixtureRuns(dir, STANDARD_RUNS.slice(0, 1));
    const copyDir = join(dir, 'rerun', 'smoke', 'monuseg', 'unet', 'f100', 's1');
    mkdirSync(copyDir, { recursive: true });
    const later = JSON.parse(readFileSync(first, 'utf8'));
    later.provenance.finishedAt = '2027-01-01T00:00:00.000Z';
    later.test.dice = 0.5;
    writeFileSync(join(copyDir, 'result.json'), JSON.stringify(later));
    const { runs, skipped } = loadRuns(dir);
    expect(runs).toHaveLength(1);
    expect(runs[0].result.test.dice).toBe(0.5);
    expect(skipped[0].reason).toContain('finished later');
  });
});

describe('published numbers', () => {
  it('prefers the verified README over a secondary source for the same cell', () => {
    const hit = findPublished('qata', 'lvit-t', 100)!;
    expect(hit.entry.source).toBe('verified: official LViT README');
    expect(hit.others.map((e) => e.source)).toEqual(['secondary source']);
    expect(findPublished('monuseg', 'lvit-tw', 100)).toBeNull();
    expect(findPublished('monuseg', 'transunet', 100)).toBeNull();
  });

  it("labels TransUNet rows with the weights each result says it started from", async () => {
    const dir = join(tmp, 'transunet-runs');
    const sha = 'ab'.repeat(32);
    const base = { profile: 'quick', reduced: true, dataset: 'qata', labelFraction: 100, seed: 666, perImageDice: [0.6, 0.7] };
    await writeFixtureRuns(dir, [
      { ...base, model: 'transunet', pretrained: 'from scratch (no ImageNet-21k)' },
      { ...base, model: 'transunet+in21k', pretrained: `R50+ViT-B_16.npz sha256:${sha}` },
    ]);
    const res = await buildReport({ runsDir: dir, outDir: join(tmp, 'transunet-site'), now: NOW });
    const page = readFileSync(res.indexHtml, 'utf8');
    expect(page).toContain('TransUNet · from scratch (no ImageNet-21k)');
    expect(page).toContain(`TransUNet · R50+ViT-B_16.npz sha256:${sha.slice(0, 12)}…`);
    // Both rows are compared with the paper's (ImageNet-21k-initialised) TransUNet number, 78.63.
    const rows = res.tables.find((t) => t.dataset === 'qata')!.rows.filter((r) => r.model.startsWith('transunet'));
    expect(rows.map((r) => [r.modelLabel, r.published?.dice])).toEqual([
      ['TransUNet · from scratch (no ImageNet-21k)', 78.63],
      [`TransUNet · R50+ViT-B_16.npz sha256:${sha.slice(0, 12)}…`, 78.63],
    ]);
    expect(resultModelLabel({ model: 'transunet' })).toBe('TransUNet');
  });
});

describe('helpers', () => {
  it('boundary marks the outer ring of a square mask only', () => {
    const w = 5;
    const mask = new Uint8Array(25);
    for (let y = 1; y <= 3; y++) for (let x = 1; x <= 3; x++) mask[y * w + x] = 1;
    const edge = boundary(mask, w, w);
    expect(edge.reduce((s, v) => s + v, 0)).toBe(8);
    expect(edge[2 * w + 2]).toBe(0);
  });

  it('jsonForScript cannot close the script element', () => {
    const text = jsonForScript({ t: '</script><!-- x' });
    expect(text).not.toContain('</script');
    expect(text).not.toContain('<!--');
    expect(JSON.parse(text)).toEqual({ t: '</script><!-- x' });
  });
});

function parseCsvLine(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') (cur += '"'), i++;
      else if (c === '"') quoted = false;
      else cur += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') out.push(cur), (cur = '');
    else cur += c;
  }
  out.push(cur);
  return out;
}
