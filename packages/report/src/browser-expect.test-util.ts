import type { ResultsJson, RunSummary } from './results-json.js';

/**
 * What the browser test expects the page to show, computed from results.json alone (not from the
 * renderers): each chart's series as its legend label and the multiset of points it plots, and each
 * comparison-table row's numbers, with our means recomputed from the runs.
 */

export interface PlottedChart {
  attrs: Record<string, string>;
  datasets: { label: string; type: string | null; points: [number, number][] }[];
}

/** Series label -> its points as sorted "x y" strings. */
export type Series = Record<string, string[]>;

const point = (x: number, y: number) => `${x} ${y}`;

function add(series: Series, label: string, points: string[]): void {
  (series[label] ??= []).push(...points);
}

function sorted(series: Series): Series {
  return Object.fromEntries(Object.entries(series).map(([k, v]) => [k, [...v].sort()]));
}

/**
 * The chart as plotted. The page jitters seed and per-image points by up to 0.6 around their
 * position (label ratio, group index); such an x counts as the position it is within 0.6 of.
 */
export function plottedSeries(chart: PlottedChart, results: ResultsJson): Series {
  const positions =
    chart.attrs.chart === 'fraction'
      ? [...results.rows, ...results.published].map((r) => r.labelPercent)
      : chart.attrs.chart === 'perimage'
        ? results.rows.map((_, i) => i)
        : [];
  const snap = (x: number) => positions.find((p) => Math.abs(x - p) <= 0.6) ?? x;
  const series: Series = {};
  for (const d of chart.datasets) add(series, d.label, d.points.map(([x, y]) => point(snap(x), y)));
  return sorted(series);
}

const profileLabel = (profile: string, reduced: boolean) => profile + (reduced ? ', reduced' : '');

/** The series a chart with these data-* attributes must plot. */
export function expectedSeries(attrs: Record<string, string>, results: ResultsJson): Series {
  const series: Series = {};
  const runsOf = (group: string) => results.runs.filter((r) => r.groupAnchor === group);
  switch (attrs.chart) {
    case 'fraction': {
      const rows = results.rows.filter((r) => r.dataset === attrs.dataset);
      for (const r of rows) {
        add(series, `${r.modelLabel} · ours (${profileLabel(r.profile, r.reduced)})`, [point(r.labelPercent, r.dice.mean)]);
        add(series, `${r.modelLabel} · seeds (${r.profile})`, runsOf(r.groupAnchor).map((run) => point(r.labelPercent, run.dice)));
      }
      const models = new Set(rows.map((r) => r.model));
      for (const p of results.published.filter((e) => e.dataset === attrs.dataset && models.has(e.model))) {
        add(series, `${p.modelLabel} · paper (${p.source})`, [point(p.labelPercent, p.dice)]);
      }
      break;
    }
    case 'cost':
      for (const r of results.runs.filter((run) => run.dataset === attrs.dataset)) {
        add(series, `${r.modelLabel} (${profileLabel(r.profile, r.reduced)})`, [point(Math.max(r.wallTimeSec / 60, 1e-3), r.dice)]);
      }
      break;
    case 'perimage':
      results.rows
        .filter((r) => r.dataset === attrs.dataset && r.profile === attrs.profile)
        .forEach((r, i) => {
          const label = `${r.modelLabel} ${r.labelPercent}%`;
          add(series, label, runsOf(r.groupAnchor).flatMap((run) => run.perImage.map((p) => point(i, p.dice))));
          const q = results.perImageStats.find((s) => s.groupAnchor === r.groupAnchor);
          if (q) add(series, `${label} quartiles`, [q.q1, q.median, q.q3].map((y) => point(i, y)));
        });
      break;
    case 'curves':
      for (const run of runsOf(attrs.group)) {
        add(series, `seed ${run.seed} loss`, run.curves.map((c) => point(c.epoch, c.trainLoss)));
        add(series, `seed ${run.seed} val Dice`, run.curves.map((c) => point(c.epoch, c.valDice)));
        for (const c of run.curves) for (const [name, v] of Object.entries(c.terms ?? {})) add(series, `seed ${run.seed} ${name}`, [point(c.epoch, v)]);
      }
      break;
    default:
      throw new Error(`browser-expect.test-util.ts: unknown chart kind '${attrs.chart}'`);
  }
  return sorted(series);
}

/** One comparison-table row as the page shows it. */
export interface ShownRow {
  section: string;
  group: string;
  model: string | null;
  labels: string | null;
  dice: string;
  iou: string;
  /** The per-seed links under Dice, then under IoU ("s<seed>: <value>"). */
  seeds: string[];
  published: string | null;
  diff: string | null;
}

const f2 = (x: number) => x.toFixed(2);

function meanStd(values: number[]): string {
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  if (values.length === 1) return f2(mean);
  const sd = Math.sqrt(values.reduce((a, v) => a + (v - mean) ** 2, 0) / (values.length - 1));
  return `${f2(mean)} ± ${f2(sd)}`;
}

function signed(x: number): string {
  const s = Math.abs(x).toFixed(2);
  if (Number(s) === 0) return `±${s}`;
  return (x > 0 ? '+' : '\u2212') + s;
}

/** Every row of results.json as its table row must read; our numbers come from the row's runs. */
export function expectedTableRows(results: ResultsJson): ShownRow[] {
  return results.rows.map((row) => {
    const runs: RunSummary[] = results.runs.filter((r) => r.groupAnchor === row.groupAnchor).sort((a, b) => a.seed - b.seed);
    const mean = (k: 'dice' | 'iou') => runs.reduce((a, r) => a + r[k], 0) / runs.length;
    const p = row.published;
    return {
      section: `ds-${row.dataset}`,
      group: row.groupAnchor,
      model: row.modelLabel,
      labels: `${row.labelPercent}%`,
      dice: meanStd(runs.map((r) => r.dice)),
      iou: meanStd(runs.map((r) => r.iou)),
      seeds: [...runs.map((r) => `s${r.seed}: ${f2(r.dice)}`), ...runs.map((r) => `s${r.seed}: ${f2(r.iou)}`)],
      published: p ? `${f2(p.dice)} / ${f2(p.iou)}` : 'not published here',
      diff: p ? `${signed(mean('dice') - p.dice)} / ${signed(mean('iou') - p.iou)}` : null,
    };
  });
}
