import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildReport, type BuildReportOutcome } from './build.js';
import { SEMI_RUNS, writeFixtureRuns } from './fixtures.test-util.js';
import { findResultFiles, loadRuns } from './load.js';
import { compareModels, MODEL_LABELS, MODEL_ORDER } from './published.js';
import { buildAblation, buildSemiComparisons } from './semi.js';
import { buildComparisonTables } from './tables.js';

let tmp: string;
let runsDir: string;
let outcome: BuildReportOutcome;
let html: string;

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'lvit-report-semi-'));
  runsDir = join(tmp, 'runs');
  await writeFixtureRuns(runsDir, SEMI_RUNS);
  outcome = await buildReport({ runsDir, outDir: join(tmp, 'site'), now: new Date('2026-02-03T04:05:06Z') });
  html = readFileSync(outcome.indexHtml, 'utf8');
});

afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Independent reference: per-seed test Dice in % straight from the result files. */
function diceBySeed(dataset: string, model: string, fraction: number): Map<number, number> {
  const out = new Map<number, number>();
  for (const f of findResultFiles(runsDir)) {
    const r = JSON.parse(readFileSync(f, 'utf8'));
    if (r.dataset === dataset && r.model === model && r.labelFraction === fraction) out.set(r.seed, 100 * r.test.dice);
  }
  return out;
}

/** Paired differences a − b over shared seeds, their mean and sample sd, with plain loops. */
function referencePaired(dataset: string, a: string, b: string, fraction: number): { diffs: number[]; mean: number; sd: number } {
  const da = diceBySeed(dataset, a, fraction);
  const db = diceBySeed(dataset, b, fraction);
  const diffs: number[] = [];
  for (const seed of [...da.keys()].sort((x, y) => x - y)) if (db.has(seed)) diffs.push(da.get(seed)! - db.get(seed)!);
  let sum = 0;
  for (const d of diffs) sum += d;
  const mean = sum / diffs.length;
  let sq = 0;
  for (const d of diffs) sq += (d - mean) ** 2;
  return { diffs, mean, sd: diffs.length > 1 ? Math.sqrt(sq / (diffs.length - 1)) : NaN };
}

function semiData() {
  const { runs } = loadRuns(runsDir);
  const tables = buildComparisonTables(runs);
  return { tables, comps: buildSemiComparisons(tables, runs), ablation: buildAblation(tables, runs) };
}

describe('semi-supervised rows', () => {
  it('label every semi key and place it right after its base model', () => {
    for (const key of ['unet+epi', 'lvit-tw+epi', 'lvit-t+epi', 'lvit-t+epi+lv', 'lvit-t+epi-binary+lv', 'lvit-t+epi-epoch+lv']) {
      expect(MODEL_LABELS[key], key).toBeTruthy();
      expect(MODEL_ORDER).toContain(key);
    }
    expect(MODEL_ORDER.indexOf('unet+epi')).toBe(MODEL_ORDER.indexOf('unet') + 1);
    expect(MODEL_ORDER.indexOf('lvit-tw+epi')).toBe(MODEL_ORDER.indexOf('lvit-tw') + 1);
    expect(MODEL_ORDER.indexOf('lvit-t+epi')).toBe(MODEL_ORDER.indexOf('lvit-t') + 1);
    const monuseg = outcome.tables.find((t) => t.dataset === 'monuseg')!;
    const order = [...new Set(monuseg.rows.filter((r) => r.labelPercent === 25).map((r) => r.model))];
    expect(order).toEqual([...order].sort(compareModels));
    expect(order.slice(0, 2)).toEqual(['unet', 'unet+epi']);
  });

  it('pair lvit-t+epi+lv at QaTa 25% with the published 80.95 and give unet+epi no published number', () => {
    const qata = outcome.tables.find((t) => t.dataset === 'qata')!;
    const semi = qata.rows.find((r) => r.model === 'lvit-t+epi+lv' && r.labelPercent === 25)!;
    expect(semi.published?.dice).toBe(80.95);
    expect(semi.published?.note).toMatch(/not stated/);
    expect(semi.diffDice).toBeCloseTo(semi.dice.mean - 80.95, 10);
    const unetEpi = qata.rows.find((r) => r.model === 'unet+epi')!;
    expect(unetEpi.published).toBeNull();
    expect(unetEpi.verdict).toBe('not-published');
    // The ablation variants have none either.
    const monuseg = outcome.tables.find((t) => t.dataset === 'monuseg')!;
    for (const r of monuseg.rows.filter((x) => x.model.includes('+epi'))) expect(r.published, r.model).toBeNull();
    // In the HTML, the semi row's published cell shows 80.95 and the ratio note is visible.
    const body = html.split('<tbody').find((b) => b.includes('>LViT-T + EPI + LV loss<') && b.includes('80.95'));
    expect(body).toBeDefined();
    expect(body).toContain('is not stated in the summaries');
  });

  it('paired per-seed differences equal an independent computation (3 seeds and a single seed)', () => {
    const { comps } = semiData();
    const cases: [string, string, string, number][] = [
      ['monuseg', 'lvit-t+epi+lv', 'lvit-t', 25],
      ['monuseg', 'lvit-t+epi+lv', 'lvit-t', 50],
      ['monuseg', 'lvit-tw+epi', 'lvit-tw', 25],
      ['monuseg', 'unet+epi', 'unet', 25],
      ['monuseg', 'lvit-t+epi-binary+lv', 'lvit-t', 25],
      ['qata', 'lvit-t+epi+lv', 'lvit-t', 25],
      ['qata', 'unet+epi', 'unet', 25],
    ];
    for (const [dataset, a, b, f] of cases) {
      const c = comps.find((x) => x.dataset === dataset && x.semi.model === a && x.labelPercent === f)!;
      expect(c, `${dataset} ${a} f${f}`).toBeDefined();
      expect(c.base.model).toBe(b);
      const ref = referencePaired(dataset, a, b, f);
      expect(c.paired.map((p) => p.diff)).toHaveLength(ref.diffs.length);
      c.paired.forEach((p, i) => expect(p.diff).toBeCloseTo(ref.diffs[i], 10));
      expect(c.pairedSummary!.mean).toBeCloseTo(ref.mean, 10);
      if (ref.diffs.length > 1) expect(c.pairedSummary!.std!).toBeCloseTo(ref.sd, 10);
      else expect(c.pairedSummary!.std).toBeNull();
    }
    expect(comps.some((c) => c.semi.model === 'lvit-t+epi' && c.base.model === 'lvit-t')).toBe(true);
  });

  it('use the report\'s "established" rule', () => {
    const { comps } = semiData();
    const strong = comps.find((c) => c.dataset === 'monuseg' && c.semi.model === 'lvit-t+epi+lv' && c.labelPercent === 25)!;
    expect(strong.finding.established).toBe(true);
    expect(strong.finding.sentence).toMatch(/do not overlap/);
    const single = comps.find((c) => c.dataset === 'qata' && c.semi.model === 'lvit-t+epi+lv')!;
    expect(single.finding.established).toBe(false);
    expect(single.finding.sentence).toMatch(/single seed cannot show a difference: not established/);
    const overlap = comps.find((c) => c.dataset === 'monuseg' && c.semi.model === 'lvit-tw+epi')!;
    expect(overlap.finding.established).toBe(false);
    expect(overlap.finding.sentence).toMatch(/overlap: the difference is not established/);
    // The summary findings include the semi pairs, including what the LV loss adds.
    const pairs = outcome.findings.map((f) => `${f.dataset} ${f.model} vs ${f.against} f${f.labelPercent}`);
    for (const p of ['monuseg lvit-t+epi+lv vs lvit-t f25', 'monuseg lvit-tw+epi vs lvit-tw f25', 'monuseg unet+epi vs unet f25', 'monuseg lvit-t+epi+lv vs lvit-t+epi f25', 'qata unet+epi vs unet f25'])
      expect(pairs).toContain(p);
    expect(html).toContain('Semi-supervised vs supervised');
    const md = readFileSync(join(outcome.outDir, 'tables.md'), 'utf8');
    expect(md).toContain('## Semi-supervised vs supervised');
    expect(md).toContain('### Ablation: MoNuSeg, profile quick');
    expect(html).toContain(strong.finding.sentence.replace(/&/g, '&amp;'));
  });

  it('ablation numbers and options come from the result files', () => {
    const { ablation } = semiData();
    const a = ablation.find((x) => x.dataset === 'monuseg')!;
    expect(a.rows.map((r) => r.model)).toEqual(['lvit-t+epi', 'lvit-t+epi+lv', 'lvit-t+epi-binary+lv', 'lvit-t+epi-epoch+lv']);
    expect(a.fractions).toEqual([25, 50]);
    const byModel = new Map(a.rows.map((r) => [r.model, r]));
    expect(byModel.get('lvit-t+epi')!.info.lv).toBeNull();
    expect(byModel.get('lvit-t+epi-binary+lv')!.info.epi.target).toBe('binary');
    expect(byModel.get('lvit-t+epi-epoch+lv')!.info.epi.update).toBe('epoch');
    expect(byModel.get('lvit-t+epi+lv')!.info.lv!.bank).toBe('labeled-images');
    for (const model of ['lvit-t+epi', 'lvit-t+epi-binary+lv', 'lvit-t+epi-epoch+lv']) {
      const cell = byModel.get(model)!.cells.get(25)!;
      const ref = referencePaired('monuseg', model, 'lvit-t+epi+lv', 25);
      expect(cell.vsReference!.summary.mean).toBeCloseTo(ref.mean, 10);
      expect(cell.vsReference!.summary.std!).toBeCloseTo(ref.sd, 10);
      const seeds = [...diceBySeed('monuseg', model, 25).values()];
      expect(cell.row.dice.mean).toBeCloseTo(seeds.reduce((s, v) => s + v, 0) / seeds.length, 10);
      expect(byModel.get(model)!.cells.get(50)).toBeUndefined();
    }
    expect(html).toContain('this run&#39;s labelled images (no published contrastive labels for this dataset)');
    const qata = ablation.find((x) => x.dataset === 'qata')!;
    expect(qata.rows.map((r) => r.model)).toEqual(['lvit-t+epi+lv']);
    expect(qata.rows[0].info.lv!.bank).toBe('official-contrastive-labels');
  });

  it('provenance shows the semi info, with a link to the prototype run, and the loss terms', () => {
    const run = outcome.runs.find((r) => r.result.runId === 'quick/monuseg/lvit-t+epi+lv/f25/s2')!;
    const proto = outcome.runs.find((r) => r.result.runId === 'quick/monuseg/lvit-t/f25/s2')!;
    const article = html.slice(html.indexOf(`id="${run.anchor}"`), html.indexOf('</article>', html.indexOf(`id="${run.anchor}"`)));
    for (const label of ['Semi-supervised: base model', 'Prototype run', 'Labelled / unlabelled images', 'EPI options', 'LV loss'])
      expect(article, label).toContain(label);
    expect(article).toContain(`href="#${proto.anchor}"`);
    expect(article).toContain('2 / 6');
    expect(article).toContain('β = 0.99, soft targets, per-iteration update');
    expect(article).toContain('bank: this run&#39;s labelled images');
    expect(article).toMatch(/Loss terms per epoch \(diceBCE, pseudo, lv\)/);
    const results = JSON.parse(readFileSync(join(outcome.outDir, 'results.json'), 'utf8'));
    const r = results.runs.find((x: { runId: string }) => x.runId === run.result.runId);
    expect(Object.keys(r.curves[0].terms)).toEqual(['diceBCE', 'pseudo', 'lv']);
  });
});
