import type { LoadedRun } from './load.js';
import { slug } from './load.js';
import {
  compareModels,
  datasetLabel,
  findPublished,
  resultModelLabel,
  PUBLISHED,
  publishedForDataset,
  publishedModelFor,
  type PublishedEntry,
} from './published.js';
import { spreadInterval, summarise, type Summary } from './stats.js';

/** One seed's numbers inside a table cell, with the run it came from. */
export interface SeedValue {
  seed: number;
  /** Test Dice and IoU in %. */
  dice: number;
  iou: number;
  runId: string;
  anchor: string;
}

/**
 * How our number relates to the published one:
 * - 'not-published': RESULTS.md has no number for this cell;
 * - 'single-seed': n = 1, which cannot show a difference;
 * - 'within-spread': the published Dice lies inside our mean ± std over seeds;
 * - 'outside-spread': it lies outside (still not like-for-like on a reduced profile).
 */
export type Verdict = 'not-published' | 'single-seed' | 'within-spread' | 'outside-spread';

/** One row of a comparison table: one model at one label ratio on one profile. */
export interface ComparisonRow {
  dataset: string;
  profile: string;
  reduced: boolean;
  profileDescription: string;
  model: string;
  modelLabel: string;
  labelPercent: number;
  n: number;
  /** Test Dice / IoU in %, over seeds. */
  dice: Summary;
  iou: Summary;
  perSeed: SeedValue[];
  /**
   * Test Dice / IoU in % with TP/FP/FN pooled over the test set (a second convention; never compared
   * with a published number, which are all per image). Null unless every seed's result has it
   * (results written before it was stored lack it).
   */
  pooled: { dice: Summary; iou: Summary } | null;
  published: PublishedEntry | null;
  /** Further sources that give the same published cell. */
  publishedAlso: PublishedEntry[];
  /** Our mean minus the published number, in points; null when not published. */
  diffDice: number | null;
  diffIoU: number | null;
  verdict: Verdict;
  /** HTML id of the section listing this row's runs. */
  groupAnchor: string;
  /** Distinct provenance facts across the row's runs, for the provenance column. */
  backends: string[];
  devices: string[];
  textEncoders: string[];
  imageSizes: number[];
  epochsRun: number[];
}

export interface DatasetTable {
  dataset: string;
  datasetLabel: string;
  rows: ComparisonRow[];
  /** Every published cell for this dataset (for the reference table). */
  published: PublishedEntry[];
}

/** Runs grouped by dataset, profile, model and label ratio; seeds are the members. */
export function groupRuns(runs: readonly LoadedRun[]): Map<string, LoadedRun[]> {
  const groups = new Map<string, LoadedRun[]>();
  for (const run of runs) {
    const key = groupKey(run);
    groups.set(key, [...(groups.get(key) ?? []), run]);
  }
  for (const members of groups.values()) members.sort((a, b) => a.result.seed - b.result.seed);
  return groups;
}

export function groupKey(run: LoadedRun): string {
  const r = run.result;
  return [r.dataset, r.profile.name, r.model, run.labelPercent].join('|');
}

export function groupAnchorOf(run: LoadedRun): string {
  const r = run.result;
  return `grp-${slug(`${r.dataset}-${r.profile.name}-${r.model}-f${run.labelPercent}`)}`;
}

/** Build one comparison row from the seeds of one group. */
export function buildRow(members: readonly LoadedRun[], published: readonly PublishedEntry[] = PUBLISHED): ComparisonRow {
  if (members.length === 0) throw new Error('tables.ts: buildRow needs at least one run');
  const first = members[0];
  const r0 = first.result;
  const perSeed: SeedValue[] = members.map((m) => ({
    seed: m.result.seed,
    dice: 100 * m.result.test.dice,
    iou: 100 * m.result.test.iou,
    runId: m.result.runId,
    anchor: m.anchor,
  }));
  const dice = summarise(perSeed.map((s) => s.dice));
  const iou = summarise(perSeed.map((s) => s.iou));
  const pooled = pooledSummary(members);
  const pub = findPublished(r0.dataset, publishedModelFor(r0.model, first.labelPercent), first.labelPercent, published);
  const entry = pub?.entry ?? null;
  return {
    dataset: r0.dataset,
    profile: r0.profile.name,
    reduced: members.some((m) => m.result.profile.reduced),
    profileDescription: r0.profile.description ?? '',
    model: r0.model,
    modelLabel: resultModelLabel(r0),
    labelPercent: first.labelPercent,
    n: members.length,
    dice,
    iou,
    perSeed,
    pooled,
    published: entry,
    publishedAlso: pub?.others ?? [],
    diffDice: entry ? dice.mean - entry.dice : null,
    diffIoU: entry ? iou.mean - entry.iou : null,
    verdict: verdictOf(dice, entry),
    groupAnchor: groupAnchorOf(first),
    backends: distinct(members.map((m) => m.result.provenance.backend)),
    devices: distinct(members.map((m) => m.result.provenance.device)),
    textEncoders: distinct(members.map((m) => textEncoderLabel(m))),
    imageSizes: distinct(members.map((m) => m.result.train.imageSize)),
    epochsRun: members.map((m) => m.result.train.epochsRun),
  };
}

function pooledSummary(members: readonly LoadedRun[]): ComparisonRow['pooled'] {
  const pooled = members.map((m) => m.result.test.pooled);
  if (pooled.some((p) => p === undefined)) return null;
  return { dice: summarise(pooled.map((p) => 100 * p!.dice)), iou: summarise(pooled.map((p) => 100 * p!.iou)) };
}

export function verdictOf(dice: Summary, published: PublishedEntry | null): Verdict {
  if (!published) return 'not-published';
  const spread = spreadInterval(dice);
  if (!spread) return 'single-seed';
  return published.dice >= spread[0] && published.dice <= spread[1] ? 'within-spread' : 'outside-spread';
}

/** One table per dataset (datasets with runs, sorted), rows ordered by profile, model, label ratio. */
export function buildComparisonTables(runs: readonly LoadedRun[], published: readonly PublishedEntry[] = PUBLISHED): DatasetTable[] {
  const rows = [...groupRuns(runs).values()].map((members) => buildRow(members, published));
  const datasets = distinct(rows.map((r) => r.dataset)).sort(compareDatasets);
  return datasets.map((dataset) => ({
    dataset,
    datasetLabel: datasetLabel(dataset),
    rows: rows
      .filter((r) => r.dataset === dataset)
      .sort((a, b) => a.profile.localeCompare(b.profile) || compareModels(a.model, b.model) || a.labelPercent - b.labelPercent),
    published: publishedForDataset(dataset, published),
  }));
}

/** MoNuSeg, QaTa, MosMed first (the paper's order of our datasets), then the rest alphabetically. */
export function compareDatasets(a: string, b: string): number {
  const order = ['monuseg', 'qata', 'mosmed'];
  const rank = (d: string) => (order.includes(d) ? order.indexOf(d) : order.length);
  return rank(a) - rank(b) || a.localeCompare(b);
}

export function textEncoderLabel(run: LoadedRun): string {
  const t = run.result.provenance.textEncoder;
  if (!t) return 'none (no text input)';
  const flags = [t.pretrained ? 'pretrained' : 'random weights', t.substitute ? 'substitute for BERT' : 'as in the paper'];
  return `${t.name} (${flags.join(', ')})`;
}

function distinct<T>(values: T[]): T[] {
  return [...new Set(values)];
}

// ---------- formatting shared by HTML, CSV and Markdown ----------

export function fmt(x: number, digits = 2): string {
  return x.toFixed(digits);
}

/** Signed difference in points with a real minus sign, e.g. "+1.20", "−0.35". */
export function fmtSigned(x: number, digits = 2): string {
  const s = Math.abs(x).toFixed(digits);
  return x > 0 && Number(s) !== 0 ? `+${s}` : x < 0 && Number(s) !== 0 ? `\u2212${s}` : `\u00b1${s}`;
}

export function fmtMeanStd(s: Summary): string {
  return s.std === null ? `${fmt(s.mean)}` : `${fmt(s.mean)} ± ${fmt(s.std)}`;
}

export const VERDICT_TEXT: Record<Verdict, string> = {
  'not-published': 'not published here',
  'single-seed': 'single seed: cannot show a difference',
  'within-spread': 'published value is within our seed spread (mean ± std): no difference shown',
  'outside-spread': 'published value is outside our seed spread (mean ± std)',
};

/** The note a row carries in every format: verdict plus the reduced-profile warning. */
export function rowNote(row: ComparisonRow): string {
  const parts = [VERDICT_TEXT[row.verdict]];
  if (row.reduced && row.published) parts.push("reduced profile vs the paper's full-compute number: not like-for-like");
  return parts.join('; ');
}

// ---------- CSV ----------

const CSV_COLUMNS = [
  'dataset',
  'profile',
  'reduced',
  'model',
  'label_percent',
  'n_seeds',
  'seeds',
  'dice_mean',
  'dice_std',
  'iou_mean',
  'iou_std',
  'dice_per_seed',
  'iou_per_seed',
  'pooled_dice_mean',
  'pooled_iou_mean',
  'published_dice',
  'published_iou',
  'published_source',
  'diff_dice',
  'diff_iou',
  'note',
  'run_ids',
] as const;

/** One line per comparison row; numbers in % with full precision, empty cells for missing values. */
export function tablesToCsv(tables: readonly DatasetTable[]): string {
  const lines = [CSV_COLUMNS.join(',')];
  for (const t of tables) {
    for (const row of t.rows) {
      const p = row.published;
      const cells: (string | number | boolean | null)[] = [
        row.dataset,
        row.profile,
        row.reduced,
        row.model,
        row.labelPercent,
        row.n,
        row.perSeed.map((s) => s.seed).join(' '),
        round(row.dice.mean),
        row.dice.std === null ? null : round(row.dice.std),
        round(row.iou.mean),
        row.iou.std === null ? null : round(row.iou.std),
        row.perSeed.map((s) => round(s.dice)).join(' '),
        row.perSeed.map((s) => round(s.iou)).join(' '),
        row.pooled ? round(row.pooled.dice.mean) : null,
        row.pooled ? round(row.pooled.iou.mean) : null,
        p ? p.dice : null,
        p ? p.iou : null,
        p ? p.source : 'not published here',
        row.diffDice === null ? null : round(row.diffDice),
        row.diffIoU === null ? null : round(row.diffIoU),
        rowNote(row),
        row.perSeed.map((s) => s.runId).join(' '),
      ];
      lines.push(cells.map(csvCell).join(','));
    }
  }
  return lines.join('\n') + '\n';
}

function round(x: number): number {
  return Math.round(x * 1e4) / 1e4;
}

export function csvCell(value: string | number | boolean | null): string {
  if (value === null) return '';
  const s = String(value);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

// ---------- Markdown ----------

/** One Markdown table per dataset with fixed columns, `-` for missing numbers. */
export function tablesToMarkdown(tables: readonly DatasetTable[], opts: { title?: string } = {}): string {
  const out: string[] = [`# ${opts.title ?? 'LViT reproduction: comparison tables'}`, ''];
  out.push(
    'Dice and IoU in %, per-image means over the test set (the paper\'s convention); ours are mean ± sample std over seeds (n = seeds).',
    '"Pooled" sums TP/FP/FN over the whole test set before dividing (the convention of some later papers); it is never compared with a published number.',
    'Δ = our mean − published value, in points. Paper numbers are full-compute; rows marked *reduced* are not like-for-like.',
    '',
  );
  if (tables.length === 0) out.push('No runs found.', '');
  for (const t of tables) {
    out.push(`## ${t.datasetLabel}`, '');
    out.push('| Model | Labels | Profile | n | Dice (ours) | IoU (ours) | Dice per seed | Dice / IoU pooled (ours, not comparable) | Dice (published) | IoU (published) | Source | ΔDice | ΔIoU | Note |');
    out.push('|---|---|---|---|---|---|---|---|---|---|---|---|---|---|');
    for (const row of t.rows) {
      const p = row.published;
      out.push(
        '| ' +
          [
            row.modelLabel,
            `${row.labelPercent}%`,
            row.reduced ? `${row.profile} (*reduced*)` : row.profile,
            String(row.n),
            fmtMeanStd(row.dice),
            fmtMeanStd(row.iou),
            row.perSeed.map((s) => `s${s.seed}: ${fmt(s.dice)}`).join(', '),
            row.pooled ? `${fmtMeanStd(row.pooled.dice)} / ${fmtMeanStd(row.pooled.iou)}` : '—',
            p ? fmt(p.dice) : 'not published',
            p ? fmt(p.iou) : 'not published',
            p ? p.source : '-',
            row.diffDice === null ? '-' : fmtSigned(row.diffDice),
            row.diffIoU === null ? '-' : fmtSigned(row.diffIoU),
            rowNote(row),
          ]
            .map(mdCell)
            .join(' | ') +
          ' |',
      );
    }
    out.push('');
  }
  return out.join('\n');
}

function mdCell(s: string): string {
  return s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}
