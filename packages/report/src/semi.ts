/**
 * Semi-supervised runs (EPI, LV loss; LVIT.md §2.2) against their supervised base: the paired
 * per-seed differences, the ablation of LViT-T's semi variants, and the provenance and loss terms
 * each semi run shows. The "established" rule is findings.ts's compareRows, not a second one.
 */
import type { SemiSupervisedInfo } from '@lvit-bench/core';
import { compareRows, type Finding } from './findings.js';
import { esc } from './html-util.js';
import type { LoadedRun } from './load.js';
import { compareModels, datasetLabel, modelLabel } from './published.js';
import { summarise, type Summary } from './stats.js';
import { fmt, fmtMeanStd, fmtSigned, groupAnchorOf, groupRuns, type ComparisonRow, type DatasetTable } from './tables.js';

/** One seed both rows ran: semi − supervised Dice, in points. */
export interface PairedDiff {
  seed: number;
  semi: number;
  base: number;
  diff: number;
  semiAnchor: string;
  baseAnchor: string;
}

export interface SemiComparison {
  dataset: string;
  profile: string;
  labelPercent: number;
  semi: ComparisonRow;
  base: ComparisonRow;
  /** The semi run's options (from its first seed's result.semi). */
  info: SemiSupervisedInfo;
  paired: PairedDiff[];
  /** Mean and sample sd of the paired differences; null when no seed is shared. */
  pairedSummary: Summary | null;
  finding: Finding;
}

/** Seeds both rows ran, in seed order, with a − b. */
export function pairedDiffs(a: ComparisonRow, b: ComparisonRow): PairedDiff[] {
  const bySeed = new Map(b.perSeed.map((s) => [s.seed, s]));
  return a.perSeed
    .filter((s) => bySeed.has(s.seed))
    .map((s) => {
      const o = bySeed.get(s.seed)!;
      return { seed: s.seed, semi: s.dice, base: o.dice, diff: s.dice - o.dice, semiAnchor: s.anchor, baseAnchor: o.anchor };
    });
}

/** The semi info of every group, by group anchor (first seed's; all seeds of a group share the options). */
export function semiInfoByGroup(runs: readonly LoadedRun[]): Map<string, SemiSupervisedInfo> {
  const out = new Map<string, SemiSupervisedInfo>();
  for (const members of groupRuns(runs).values()) {
    const semi = members.find((m) => m.result.semi)?.result.semi;
    if (semi) out.set(groupAnchorOf(members[0]), semi);
  }
  return out;
}

/** Each semi row next to the supervised row of its base model (same dataset, profile, fraction). */
export function buildSemiComparisons(tables: readonly DatasetTable[], runs: readonly LoadedRun[]): SemiComparison[] {
  const infos = semiInfoByGroup(runs);
  const out: SemiComparison[] = [];
  for (const t of tables) {
    for (const semi of t.rows) {
      const info = infos.get(semi.groupAnchor);
      if (!info) continue;
      const base = t.rows.find((r) => r.model === info.baseModel && r.profile === semi.profile && r.labelPercent === semi.labelPercent && !infos.has(r.groupAnchor));
      if (!base) continue;
      const paired = pairedDiffs(semi, base);
      out.push({
        dataset: t.dataset,
        profile: semi.profile,
        labelPercent: semi.labelPercent,
        semi,
        base,
        info,
        paired,
        pairedSummary: paired.length ? summarise(paired.map((p) => p.diff)) : null,
        finding: compareRows(semi, base),
      });
    }
  }
  // Within a dataset (tables are in dataset order): profile, label ratio, then model order.
  const datasetRank = (d: string) => tables.findIndex((t) => t.dataset === d);
  return out.sort(
    (a, b) =>
      datasetRank(a.dataset) - datasetRank(b.dataset) ||
      a.profile.localeCompare(b.profile) ||
      a.labelPercent - b.labelPercent ||
      compareModels(a.semi.model, b.semi.model),
  );
}

/** The default method the ablation compares against. */
export const ABLATION_REFERENCE = 'lvit-t+epi+lv';

export interface AblationCell {
  row: ComparisonRow;
  /** Paired differences to the reference at the same fraction (null for the reference itself or when absent). */
  vsReference: { paired: PairedDiff[]; summary: Summary } | null;
}

export interface AblationRow {
  model: string;
  info: SemiSupervisedInfo;
  /** By label percent. */
  cells: Map<number, AblationCell>;
}

export interface AblationTable {
  dataset: string;
  profile: string;
  fractions: number[];
  rows: AblationRow[];
}

/** Per dataset and profile: LViT-T's semi variants × fractions, each with its paired difference to the default. */
export function buildAblation(tables: readonly DatasetTable[], runs: readonly LoadedRun[]): AblationTable[] {
  const infos = semiInfoByGroup(runs);
  const out: AblationTable[] = [];
  for (const t of tables) {
    for (const profile of [...new Set(t.rows.map((r) => r.profile))]) {
      const semiRows = t.rows.filter((r) => r.profile === profile && infos.get(r.groupAnchor)?.baseModel === 'lvit-t');
      if (semiRows.length === 0) continue;
      const fractions = [...new Set(semiRows.map((r) => r.labelPercent))].sort((a, b) => a - b);
      const models = [...new Set(semiRows.map((r) => r.model))].sort(compareModels);
      const rows = models.map((model) => {
        const cells = new Map<number, AblationCell>();
        for (const row of semiRows.filter((r) => r.model === model)) {
          const ref = semiRows.find((r) => r.model === ABLATION_REFERENCE && r.labelPercent === row.labelPercent);
          const paired = ref && model !== ABLATION_REFERENCE ? pairedDiffs(row, ref) : [];
          cells.set(row.labelPercent, { row, vsReference: paired.length ? { paired, summary: summarise(paired.map((p) => p.diff)) } : null });
        }
        const info = infos.get([...cells.values()][0].row.groupAnchor)!;
        return { model, info, cells };
      });
      out.push({ dataset: t.dataset, profile, fractions, rows });
    }
  }
  return out;
}

// ---------- HTML ----------

export function fmtPaired(s: Summary | null): string {
  if (!s) return 'no shared seeds';
  return s.std === null ? `${fmtSigned(s.mean)} (1 pair)` : `${fmtSigned(s.mean)} ± ${fmt(s.std)} (${s.n} pairs)`;
}

export function bankLabel(bank: 'official-contrastive-labels' | 'labeled-images'): string {
  return bank === 'official-contrastive-labels'
    ? "LViT's official contrastive labels"
    : "this run's labelled images (no published contrastive labels for this dataset)";
}

export function lvLabel(info: SemiSupervisedInfo): string {
  return info.lv ? `on (weight ${info.lv.weight}, ${info.lv.textVector} text vector; bank: ${bankLabel(info.lv.bank)}, ${info.lv.bankSize} masks)` : 'off';
}

function rowCell(row: ComparisonRow): string {
  const seeds = row.perSeed.map((s) => `<a href="#${esc(s.anchor)}" title="run ${esc(s.runId)}">s${s.seed}:&nbsp;${fmt(s.dice)}</a>`).join(' ');
  return `<td class="num ours"><a class="mean" href="#${esc(row.groupAnchor)}">${fmtMeanStd(row.dice)}</a> (n = ${row.n})<div class="seeds">${seeds}</div></td>`;
}

function pairedCell(paired: PairedDiff[], summary: Summary | null): string {
  const each = paired.map((p) => `<a href="#${esc(p.semiAnchor)}" title="${fmt(p.semi)} − ${fmt(p.base)}">s${p.seed}:&nbsp;${fmtSigned(p.diff)}</a>`).join(' ');
  return `<td class="num diff paired">${fmtPaired(summary)}<div class="seeds">${each}</div></td>`;
}

/** The "Semi-supervised vs supervised" section of one dataset: one table per profile and fraction. */
export function renderSemiSection(dataset: string, comps: readonly SemiComparison[]): string {
  const mine = comps.filter((c) => c.dataset === dataset);
  if (mine.length === 0) return '';
  const keys = [...new Set(mine.map((c) => `${c.profile}|${c.labelPercent}`))];
  const tables = keys.map((key) => {
    const group = mine.filter((c) => `${c.profile}|${c.labelPercent}` === key);
    const { profile, labelPercent } = group[0];
    const body = group
      .map(
        (c) => `<tbody class="semi-pair"><tr class="main"><td class="model">${esc(c.semi.modelLabel)}</td><td class="model">${esc(c.base.modelLabel)}</td>${rowCell(c.semi)}${rowCell(c.base)}${pairedCell(c.paired, c.pairedSummary)}</tr>
<tr class="sub"><td colspan="5"><span class="${c.finding.established ? 'established' : 'not-established'}">${esc(c.finding.sentence)}</span> <span class="prov">${c.info.labeledImages} labelled + ${c.info.unlabeledImages} unlabelled images; EPI β = ${c.info.epi.beta}, ${esc(c.info.epi.target)} targets, ${esc(updateLabel(c.info.epi.update))} update; LV loss ${esc(lvLabel(c.info))}.</span></td></tr></tbody>`,
      )
      .join('\n');
    return `<div class="table-wrap"><table class="comparison semi">
<caption>${labelPercent}% labels · profile ${esc(profile)}: semi-supervised (left) vs its supervised base model at the same seeds (mean ± sample std, n; per-seed values link to the runs). Paired difference = semi − supervised at the same seed, in Dice points: each seed's, then their mean ± sample sd.</caption>
<thead><tr><th>Semi-supervised</th><th>Supervised base</th><th>Dice (semi)</th><th>Dice (supervised)</th><th>Paired Δ Dice</th></tr></thead>
${body}
</table></div>`;
  });
  return `<h3 id="semi-${esc(dataset)}">Semi-supervised vs supervised</h3>
<p class="note">Each semi-supervised run starts from the supervised run of its base model at the same seed (its prototype) and adds the unlabelled images. A difference counts as established only when both have n ≥ 2 and the mean ± std intervals do not overlap.</p>
${tables.join('\n')}`;
}

/** The ablation table of LViT-T's semi variants; options are read from result.semi. */
export function renderAblation(dataset: string, ablations: readonly AblationTable[]): string {
  return ablations
    .filter((a) => a.dataset === dataset)
    .map((a) => {
      const head = `<tr><th>Variant</th><th>EPI target</th><th>EPI update</th><th>LV loss</th><th>LV bank</th>${a.fractions
        .map((f) => `<th>Dice ${f}% (n)</th><th>Δ vs ${esc(modelLabel(ABLATION_REFERENCE))} ${f}%</th>`)
        .join('')}</tr>`;
      const body = a.rows
        .map((r) => {
          const cells = a.fractions
            .map((f) => {
              const c = r.cells.get(f);
              if (!c) return '<td>-</td><td>-</td>';
              const ref = r.model === ABLATION_REFERENCE ? '<td class="num">reference</td>' : c.vsReference ? pairedCell(c.vsReference.paired, c.vsReference.summary) : '<td class="num">no shared seeds</td>';
              return `${rowCell(c.row)}${ref}`;
            })
            .join('');
          return `<tr><td class="model">${esc(modelLabel(r.model))}</td><td>${esc(r.info.epi.target)}</td><td>${esc(updateLabel(r.info.epi.update))}</td><td>${r.info.lv ? 'on' : 'off'}</td><td>${r.info.lv ? `<span title="${esc(bankLabel(r.info.lv.bank))}">${r.info.lv.bank === 'labeled-images' ? 'labelled images' : 'official labels'} (${r.info.lv.bankSize})</span>` : '-'}</td>${cells}</tr>`;
        })
        .join('\n');
      return `<div class="table-wrap"><table class="comparison ablation">
<caption>Ablation · profile ${esc(a.profile)}: LViT-T's semi-supervised variants. Options are read from each run's result. Δ = variant − ${esc(modelLabel(ABLATION_REFERENCE))} at the same seed (mean ± sample sd over shared seeds; each seed's value under it).</caption>
<thead>${head}</thead>
<tbody>
${body}
</tbody></table></div>`;
    })
    .join('\n');
}

/** Provenance facts of a semi-supervised run (none for a supervised one). */
export function semiProvenanceFields(run: LoadedRun, anchorOfRunId: (runId: string) => string | undefined): [string, string][] {
  const s = run.result.semi;
  if (!s) return [];
  const protoAnchor = anchorOfRunId(s.prototypeRunId);
  const proto = protoAnchor ? `<a href="#${esc(protoAnchor)}"><code>${esc(s.prototypeRunId)}</code></a>` : `<code>${esc(s.prototypeRunId)}</code> (not among these results)`;
  return [
    ['Semi-supervised: base model', esc(modelLabel(s.baseModel))],
    ['Prototype run', `${proto}, checkpoint <code>${esc(s.prototypeCheckpoint)}</code>`],
    ['Labelled / unlabelled images', `${s.labeledImages} / ${s.unlabeledImages}`],
    ['EPI options', `β = ${s.epi.beta}, ${esc(s.epi.target)} targets, ${esc(updateLabel(s.epi.update))} update, pseudo-label weight ${s.epi.weight}`],
    ['LV loss', esc(lvLabel(s))],
  ];
}

/** Per-epoch loss terms (e.g. diceBCE, pseudo, lv) next to the total, when the run logged any. */
export function renderLossTerms(run: LoadedRun): string {
  const curves = run.result.curves;
  const names = [...new Set(curves.flatMap((c) => Object.keys(c.terms ?? {})))];
  if (names.length === 0) return '';
  const rows = curves
    .map((c) => `<tr><td class="num">${c.epoch}</td><td class="num">${c.trainLoss.toFixed(4)}</td>${names.map((n) => `<td class="num">${c.terms?.[n] === undefined ? '-' : c.terms[n].toFixed(4)}</td>`).join('')}</tr>`)
    .join('');
  return `<details class="loss-terms"><summary>Loss terms per epoch (${esc(names.join(', '))})</summary><div class="table-wrap"><table class="terms">
<thead><tr><th>Epoch</th><th>Total</th>${names.map((n) => `<th>${esc(n)}</th>`).join('')}</tr></thead><tbody>${rows}</tbody></table></div></details>`;
}

// ---------- Markdown (appended to tables.md) ----------

/** The semi-vs-supervised pairs and the ablation as Markdown tables; empty when there are no semi runs. */
export function semiToMarkdown(comps: readonly SemiComparison[], ablations: readonly AblationTable[]): string {
  if (comps.length === 0 && ablations.length === 0) return '';
  const seeds = (r: ComparisonRow) => r.perSeed.map((s) => `s${s.seed}: ${fmt(s.dice)}`).join(', ');
  const out = ['## Semi-supervised vs supervised', '', 'Dice in %, mean ± sample std (n). Paired Δ = semi − supervised at the same seed (mean ± sd over shared seeds; each seed listed).', ''];
  out.push('| Dataset | Labels | Profile | Semi-supervised | Dice (semi) | Supervised base | Dice (supervised) | Paired Δ Dice | Δ per seed | Verdict |');
  out.push('|---|---|---|---|---|---|---|---|---|---|');
  for (const c of comps) {
    const cells = [
      datasetLabel(c.semi.dataset),
      `${c.labelPercent}%`,
      c.profile,
      c.semi.modelLabel,
      `${fmtMeanStd(c.semi.dice)} (n = ${c.semi.n}; ${seeds(c.semi)})`,
      c.base.modelLabel,
      `${fmtMeanStd(c.base.dice)} (n = ${c.base.n}; ${seeds(c.base)})`,
      fmtPaired(c.pairedSummary),
      c.paired.map((p) => `s${p.seed}: ${fmtSigned(p.diff)}`).join(', '),
      c.finding.established ? 'established' : 'not established',
    ];
    out.push(`| ${cells.map((x) => x.replace(/\|/g, '\\|')).join(' | ')} |`);
  }
  for (const a of ablations) {
    out.push('', `### Ablation: ${datasetLabel(a.dataset)}, profile ${a.profile}`, '');
    out.push(`| Variant | EPI target | EPI update | LV loss | LV bank | ${a.fractions.map((f) => `Dice ${f}% | Δ vs ${modelLabel(ABLATION_REFERENCE)} ${f}%`).join(' | ')} |`);
    out.push(`|---|---|---|---|---|${a.fractions.map(() => '---|---|').join('')}`);
    for (const r of a.rows) {
      const cells = a.fractions.flatMap((f) => {
        const c = r.cells.get(f);
        if (!c) return ['-', '-'];
        const ref = r.model === ABLATION_REFERENCE ? 'reference' : c.vsReference ? fmtPaired(c.vsReference.summary) : 'no shared seeds';
        return [`${fmtMeanStd(c.row.dice)} (n = ${c.row.n})`, ref];
      });
      out.push(`| ${[modelLabel(r.model), r.info.epi.target, updateLabel(r.info.epi.update), r.info.lv ? 'on' : 'off', r.info.lv ? bankLabel(r.info.lv.bank) : '-', ...cells].join(' | ')} |`);
    }
  }
  return out.join('\n') + '\n';
}

/** How an EPI update mode reads in a sentence or a cell. */
export function updateLabel(update: SemiSupervisedInfo['epi']['update']): string {
  return update === 'mean-teacher' ? 'mean-teacher (weight EMA every step)' : `per-${update}`;
}
