import type { Finding } from './findings.js';
import type { LoadedRun } from './load.js';
import { datasetLabel, resultModelLabel, type PublishedEntry } from './published.js';
import { quantile } from './stats.js';
import { groupAnchorOf, type ComparisonRow, type DatasetTable } from './tables.js';

/** One run as the charts need it; Dice/IoU in %. */
export interface RunSummary {
  anchor: string;
  groupAnchor: string;
  runId: string;
  dataset: string;
  profile: string;
  reduced: boolean;
  model: string;
  modelLabel: string;
  labelPercent: number;
  seed: number;
  dice: number;
  iou: number;
  wallTimeSec: number;
  macsPerImage: number | null;
  paramCount: number;
  epochsRun: number;
  earlyStopped: boolean;
  curves: { epoch: number; trainLoss: number; valLoss: number | null; valDice: number; valIoU: number; terms: Record<string, number> | null }[];
  perImage: { id: string; dice: number }[];
}

/** Per-image Dice distribution of one group (all seeds pooled), in %. */
export interface PerImageStats {
  groupAnchor: string;
  dataset: string;
  profile: string;
  model: string;
  labelPercent: number;
  n: number;
  q1: number;
  median: number;
  q3: number;
}

/** results.json: the data behind the tables and charts (also embedded in index.html). */
export interface ResultsJson {
  schema: 'lvit-bench/report@1';
  title: string;
  generatedAt: string;
  profileFilter: string | null;
  datasets: { key: string; label: string }[];
  rows: ComparisonRow[];
  runs: RunSummary[];
  perImageStats: PerImageStats[];
  published: PublishedEntry[];
  findings: Finding[];
}

export function buildResultsJson(args: {
  title: string;
  generatedAt: string;
  profileFilter: string | null;
  tables: readonly DatasetTable[];
  runs: readonly LoadedRun[];
  findings: readonly Finding[];
}): ResultsJson {
  const runs = args.runs.map(summariseRun);
  return {
    schema: 'lvit-bench/report@1',
    title: args.title,
    generatedAt: args.generatedAt,
    profileFilter: args.profileFilter,
    datasets: args.tables.map((t) => ({ key: t.dataset, label: datasetLabel(t.dataset) })),
    rows: args.tables.flatMap((t) => t.rows),
    runs,
    perImageStats: args.tables.flatMap((t) => t.rows).flatMap((row) => perImageStats(row, runs)),
    published: args.tables.flatMap((t) => t.published),
    findings: [...args.findings],
  };
}

export function summariseRun(run: LoadedRun): RunSummary {
  const r = run.result;
  return {
    anchor: run.anchor,
    groupAnchor: groupAnchorOf(run),
    runId: r.runId,
    dataset: r.dataset,
    profile: r.profile.name,
    reduced: r.profile.reduced,
    model: r.model,
    modelLabel: resultModelLabel(r),
    labelPercent: run.labelPercent,
    seed: r.seed,
    dice: 100 * r.test.dice,
    iou: 100 * r.test.iou,
    wallTimeSec: r.provenance.wallTimeSec,
    macsPerImage: r.macsPerImage ?? null,
    paramCount: r.paramCount,
    epochsRun: r.train.epochsRun,
    earlyStopped: r.train.earlyStopped,
    curves: r.curves.map((c) => ({
      epoch: c.epoch,
      trainLoss: c.trainLoss,
      valLoss: c.valLoss ?? null,
      valDice: 100 * c.valDice,
      valIoU: 100 * c.valIoU,
      terms: c.terms ?? null,
    })),
    perImage: r.test.perImage.map((p) => ({ id: p.id, dice: round4(100 * p.dice) })),
  };
}

function perImageStats(row: ComparisonRow, runs: readonly RunSummary[]): PerImageStats[] {
  const values = runs
    .filter((r) => r.groupAnchor === row.groupAnchor)
    .flatMap((r) => r.perImage.map((p) => p.dice))
    .sort((a, b) => a - b);
  if (values.length === 0) return [];
  return [
    {
      groupAnchor: row.groupAnchor,
      dataset: row.dataset,
      profile: row.profile,
      model: row.model,
      labelPercent: row.labelPercent,
      n: values.length,
      q1: quantile(values, 0.25),
      median: quantile(values, 0.5),
      q3: quantile(values, 0.75),
    },
  ];
}

function round4(x: number): number {
  return Math.round(x * 1e4) / 1e4;
}

/** JSON that is safe inside <script type="application/json">: no "</script" or "<!--" can appear. */
export function jsonForScript(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}
