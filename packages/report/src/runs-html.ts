import type { LoadedRun } from './load.js';
import { compareModels, datasetLabel, resultModelLabel } from './published.js';
import { esc, formatDuration, fullBadge, reducedBadge } from './html-util.js';
import type { PageModel } from './html.js';
import { renderLossTerms, semiProvenanceFields } from './semi.js';
import { compareDatasets, fmt, fmtMeanStd, groupAnchorOf, groupRuns, textEncoderLabel } from './tables.js';

/** The "Runs and provenance" section: every run of every group, with where and how it was produced. */
export function renderRuns(m: PageModel): string {
  const groups = [...groupRuns(m.runs).values()].sort((a, b) => compareGroups(a[0], b[0]));
  const rowsByAnchor = new Map(m.tables.flatMap((t) => t.rows).map((r) => [r.groupAnchor, r]));
  const anchorByRunId = new Map(m.runs.map((r) => [r.result.runId, r.anchor]));
  const anchorOf = (runId: string) => anchorByRunId.get(runId);
  const sections = groups.map((members) => {
    const first = members[0];
    const row = rowsByAnchor.get(groupAnchorOf(first));
    const r0 = first.result;
    const summary = row
      ? `<p>Dice ${fmtMeanStd(row.dice)}, IoU ${fmtMeanStd(row.iou)} over n = ${row.n} seed${row.n === 1 ? '' : 's'} (${row.perSeed.map((s) => s.seed).join(', ')}).${row.n === 1 ? ' A single seed cannot show a difference.' : ''}</p>`
      : '';
    return `<section class="group" id="${esc(groupAnchorOf(first))}">
<h3>${esc(resultModelLabel(r0))} · ${esc(datasetLabel(r0.dataset))} · ${first.labelPercent}% labels · ${esc(r0.profile.name)} ${r0.profile.reduced ? reducedBadge() : fullBadge()}</h3>
${summary}
${members.map((run) => renderRunDetails(run, m.logLinks.get(run.anchor), anchorOf, rootLabelOf(m, run))).join('\n')}
</section>`;
  });
  return `<section id="runs"><h2>Runs and provenance</h2>
<p class="note">Every number of ours above links here. Each run lists where and how it was produced.</p>
${sections.join('\n')}
</section>`;
}

/** Which runs root a run came from, when the report merges several (null for one). */
function rootLabelOf(m: PageModel, run: LoadedRun): string | null {
  return m.runsRootLabels.size > 1 ? (m.runsRootLabels.get(run.runsRoot) ?? run.runsRoot) : null;
}

function renderRunDetails(
  run: LoadedRun,
  logLink: string | undefined,
  anchorOf: (runId: string) => string | undefined,
  rootLabel: string | null,
): string {
  const r = run.result;
  const p = r.provenance;
  const t = r.train;
  const fields: [string, string][] = [
    ['Run', `<code>${esc(r.runId)}</code> (folder <code>${esc(run.relDir)}</code>${rootLabel ? ` under <code>${esc(rootLabel)}</code>` : ''})`],
    ['Test Dice / IoU', `${fmt(100 * r.test.dice)} / ${fmt(100 * r.test.iou)} on ${r.test.n} images`],
    ['Profile', `${esc(r.profile.name)} ${r.profile.reduced ? reducedBadge() : fullBadge()} ${esc(r.profile.description)}`],
    ['Seed', String(r.seed)],
    ...semiProvenanceFields(run, anchorOf),
    ['Labelled images', `${t.labeledImages} of ${t.trainImages} (${run.labelPercent}%); label manifest <code>${esc(`${run.relDir}/${p.labelManifest}`)}</code>`],
    ['Backend', `${esc(p.backend)}: ${esc(p.backendDetail)}`],
    ['Device', esc(p.device)],
    ['Text encoder', `${esc(textEncoderLabel(run))}${p.textEncoder?.description ? `: ${esc(p.textEncoder.description)}` : ''}${p.textEncoder?.substitute ? ' <span class="badge substitute">substitute</span>' : ''}`],
    ['Git commit', `<code>${esc(p.gitCommit)}</code>${p.gitDirty ? ' <span class="badge dirty">uncommitted changes</span>' : ''}`],
    ['Data manifest hash', `<code class="hash">${esc(p.dataManifestHash)}</code>`],
    ['Epochs', `${t.epochsRun} of at most ${t.maxEpochs}; ${t.earlyStopped ? 'stopped early' : 'no early stop'}; best validation Dice ${fmt(100 * r.val.bestDice)} at epoch ${r.val.bestEpoch}`],
    ['Training setup', `batch ${t.batchSize}, ${t.imageSize}×${t.imageSize} input`],
    ['Model size', `${r.paramCount.toLocaleString('en-US')} parameters${r.macsPerImage ? `, ${(r.macsPerImage / 1e9).toFixed(2)} G MACs per image` : ''}`],
    ['Wall time', `${formatDuration(p.wallTimeSec)} (${esc(p.startedAt)} to ${esc(p.finishedAt)}), Node ${esc(p.node)}`],
    ['Model config', `<code>${esc(JSON.stringify(r.modelConfig))}</code>`],
    ['Log', logLink ? `<a href="${esc(logLink)}">log.jsonl</a>` : run.logFile ? `<code>${esc(`${run.relDir}/log.jsonl`)}</code> (not copied)` : 'none found'],
  ];
  return `<article class="run" id="${esc(run.anchor)}">
<h4>seed ${r.seed}: Dice ${fmt(100 * r.test.dice)}, IoU ${fmt(100 * r.test.iou)}</h4>
<dl class="details">${fields.map(([k, v]) => `<div class="fact"><dt>${esc(k)}</dt><dd>${v}</dd></div>`).join('')}</dl>
${renderLossTerms(run)}
</article>`;
}

/** Dataset, profile, model, label ratio: the order of the tables. */
function compareGroups(a: LoadedRun, b: LoadedRun): number {
  return (
    compareDatasets(a.result.dataset, b.result.dataset) ||
    a.result.profile.name.localeCompare(b.result.profile.name) ||
    compareModels(a.result.model, b.result.model) ||
    a.labelPercent - b.labelPercent
  );
}
