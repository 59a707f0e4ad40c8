import { datasetLabel } from './published.js';
import { intervalsOverlap, spreadInterval } from './stats.js';
import { fmt, fmtMeanStd, type ComparisonRow, type DatasetTable } from './tables.js';

/** A head-to-head of two models on the same dataset, profile and label ratio. */
export interface Finding {
  dataset: string;
  profile: string;
  reduced: boolean;
  labelPercent: number;
  /** The model the question is about (LViT-T) and what it is compared with. */
  model: string;
  against: string;
  /** Mean Dice difference model − against, in points. */
  diffDice: number;
  nModel: number;
  nAgainst: number;
  /** Seeds both models ran, and on how many of them `model` scored higher. */
  pairedSeeds: number;
  pairedWins: number;
  /** True only when both have n ≥ 2 and the mean ± std intervals do not overlap. */
  established: boolean;
  sentence: string;
  groupAnchors: [string, string];
}

/**
 * The comparisons the summary reports: does LViT-T beat U-Net, does text help (vs LViT-TW), and at
 * 25%/50% what the semi-supervised recipe buys over its supervised base (and what the LV loss adds).
 */
export const FINDING_PAIRS: readonly [string, string][] = [
  ['lvit-t', 'unet'],
  ['lvit-t', 'lvit-tw'],
  ['lvit-t+epi+lv', 'lvit-t'],
  ['lvit-tw+epi', 'lvit-tw'],
  ['unet+epi', 'unet'],
  ['lvit-t+epi+lv', 'lvit-t+epi'],
];

export function buildFindings(tables: readonly DatasetTable[], pairs = FINDING_PAIRS): Finding[] {
  const out: Finding[] = [];
  for (const table of tables) {
    for (const [model, against] of pairs) {
      for (const a of table.rows.filter((r) => r.model === model)) {
        const b = table.rows.find((r) => r.model === against && r.profile === a.profile && r.labelPercent === a.labelPercent);
        if (b) out.push(compareRows(a, b));
      }
    }
  }
  return out;
}

/** Compare two rows by mean Dice; the wording never claims more than the seed spread supports. */
export function compareRows(a: ComparisonRow, b: ComparisonRow): Finding {
  const diff = a.dice.mean - b.dice.mean;
  const spreadA = spreadInterval(a.dice);
  const spreadB = spreadInterval(b.dice);
  const established = spreadA !== null && spreadB !== null && !intervalsOverlap(spreadA, spreadB);
  const bySeed = new Map(b.perSeed.map((s) => [s.seed, s.dice]));
  const paired = a.perSeed.filter((s) => bySeed.has(s.seed));
  const wins = paired.filter((s) => s.dice > bySeed.get(s.seed)!).length;
  const reduced = a.reduced || b.reduced;
  const nameA = a.modelLabel;
  const nameB = b.modelLabel;
  const head =
    `${datasetLabel(a.dataset)}, ${a.labelPercent}% labels, profile ${a.profile}${reduced ? ' (reduced)' : ''}: ` +
    `${nameA} ${fmtMeanStd(a.dice)} vs ${nameB} ${fmtMeanStd(b.dice)} Dice (n = ${a.n} and ${b.n} seeds). `;
  const direction = diff > 0 ? 'higher' : diff < 0 ? 'lower' : 'equal';
  const size = `${nameA} is ${direction}${diff === 0 ? '' : ` by ${fmt(Math.abs(diff))} points`}`;
  let verdict: string;
  if (a.n < 2 || b.n < 2) {
    verdict = `${size}, but a single seed cannot show a difference: not established.`;
  } else if (!established) {
    verdict = `${size}, but the seed spreads (mean ± std) overlap: the difference is not established.`;
  } else {
    verdict = `${size} and the seed spreads (mean ± std) do not overlap` + (paired.length ? ` (${nameA} higher on ${wins} of ${paired.length} shared seeds).` : '.');
    if (a.n < 5 || b.n < 5) verdict += ` With ${Math.min(a.n, b.n)} seeds this is a small sample.`;
  }
  if (reduced) verdict += " This profile is reduced, so it does not test the paper's full-compute claim.";
  return {
    dataset: a.dataset,
    profile: a.profile,
    reduced,
    labelPercent: a.labelPercent,
    model: a.model,
    against: b.model,
    diffDice: diff,
    nModel: a.n,
    nAgainst: b.n,
    pairedSeeds: paired.length,
    pairedWins: wins,
    established,
    sentence: head + verdict,
    groupAnchors: [a.groupAnchor, b.groupAnchor],
  };
}
