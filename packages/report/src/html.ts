import type { Finding } from './findings.js';
import type { LoadedRun, SkippedFile } from './load.js';
import { DATA_CAVEATS, findPublished, NOT_AVAILABLE_NOTE, type PublishedEntry } from './published.js';
import { esc, fullBadge, reducedBadge } from './html-util.js';
import type { QualPanel } from './qualitative.js';
import type { ModelDownload } from './models.js';
import type { DemoData } from './demo.js';
import { renderRuns } from './runs-html.js';
import { renderAblation, renderSemiSection, type AblationTable, type SemiComparison } from './semi.js';
import { jsonForScript, type ResultsJson } from './results-json.js';
import { fmt, fmtMeanStd, fmtSigned, rowNote, type ComparisonRow, type DatasetTable } from './tables.js';

export { esc, formatDuration } from './html-util.js';

/** Everything the page shows; built by buildReport. */
export interface PageModel {
  title: string;
  generatedAt: string;
  /** The runs root as the reader should see it (relative to the repo when possible); several are comma-separated. */
  runsLabel: string;
  /** Each runs root (absolute, as in LoadedRun.runsRoot) as the reader should see it. */
  runsRootLabels: ReadonlyMap<string, string>;
  profileFilter: string | null;
  tables: DatasetTable[];
  /** Published reference tables for datasets without runs (shown when nothing else is). */
  publishedOnly: DatasetTable[];
  findings: Finding[];
  /** Semi-supervised rows against their supervised base, and LViT-T's semi ablation (semi.ts). */
  semi: SemiComparison[];
  ablation: AblationTable[];
  runs: LoadedRun[];
  skipped: SkippedFile[];
  panels: QualPanel[];
  warnings: string[];
  /** Site-relative link to each run's copied log.jsonl, by run anchor. */
  logLinks: Map<string, string>;
  /** Each row's published ONNX model (models.ts), by group anchor. */
  downloads: Map<string, ModelDownload>;
  /** The in-page "try it" panel's models (demo.ts); null: no row has an exported model. */
  demo: DemoData | null;
  results: ResultsJson;
}

export function renderPage(m: PageModel): string {
  const hasRuns = m.runs.length > 0;
  const body = [
    renderHeader(m),
    renderNav(m),
    renderWarnings(m),
    hasRuns ? '' : renderEmpty(m),
    renderSummary(m),
    ...m.tables.map((t) => renderDataset(t, m)),
    ...m.publishedOnly.map((t) => renderPublishedOnly(t)),
    m.demo ? renderTryIt(m.demo) : '',
    hasRuns ? renderRuns(m) : '',
    renderMethods(),
  ].join('\n');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(m.title)}</title>
<link rel="stylesheet" href="assets/report.css">
</head>
<body>
<main>
${body}
</main>
<script type="application/json" id="report-data">${jsonForScript(m.results)}</script>
<script src="assets/chart.umd.min.js"></script>
<script src="assets/report-client.js"></script>
${m.demo ? '<script src="assets/demo-client.js"></script>' : ''}
</body>
</html>
`;
}

function renderHeader(m: PageModel): string {
  const profiles = distinctProfiles(m.runs);
  const profileList = profiles.length
    ? `<ul class="profiles">${profiles
        .map((p) => `<li><strong>${esc(p.name)}</strong> ${p.reduced ? reducedBadge() : fullBadge()} ${esc(p.description)}</li>`)
        .join('')}</ul>`
    : '';
  const reducedNote = profiles.some((p) => p.reduced)
    ? `<p class="callout reduced-note">${reducedBadge()} <strong>Reduced compute.</strong> Runs marked <em>reduced</em> cut width, resolution, epochs or data from the paper's settings. The published numbers are full-compute, so these runs are not comparable to them as equals: the differences shown describe this profile, not the paper's claim.</p>`
    : '';
  return `<header>
<h1>${esc(m.title)}</h1>
<p class="meta">Generated ${esc(m.generatedAt)} from ${m.runs.length} result file${m.runs.length === 1 ? '' : 's'} under <code>${esc(m.runsLabel)}</code>${
    m.profileFilter ? ` (profile <code>${esc(m.profileFilter)}</code> only)` : ''
  }. Dice and IoU are in %, per-image means over each test set.</p>
${profileList}
${reducedNote}
</header>`;
}

function renderNav(m: PageModel): string {
  const items = [
    `<li><a href="#summary">What this reproduction shows</a></li>`,
    ...m.tables.map((t) => `<li><a href="#ds-${esc(t.dataset)}">${esc(t.datasetLabel)}</a></li>`),
    ...m.publishedOnly.map((t) => `<li><a href="#ds-${esc(t.dataset)}">${esc(t.datasetLabel)} (published only)</a></li>`),
    m.runs.length ? `<li><a href="#runs">Runs and provenance</a></li>` : '',
    `<li><a href="#methods">Methods and sources</a></li>`,
  ];
  return `<nav><ul>${items.join('')}</ul></nav>`;
}

function renderWarnings(m: PageModel): string {
  const items = [
    ...m.skipped.map((s) => `<li>Not used: <code>${esc(s.file)}</code>: ${esc(s.reason)}</li>`),
    ...m.warnings.map((w) => `<li>${esc(w)}</li>`),
  ];
  return items.length ? `<section class="warnings" id="warnings"><h2>Warnings</h2><ul>${items.join('')}</ul></section>` : '';
}

function renderEmpty(m: PageModel): string {
  return `<section class="empty" id="no-runs"><h2>No runs yet</h2><p>No result files were found under <code>${esc(m.runsLabel)}</code>${
    m.profileFilter ? ` for profile <code>${esc(m.profileFilter)}</code>` : ''
  }, so there is nothing of ours to compare. Run the reproduce pipeline (e.g. <code>npm run reproduce</code>) and build this report again. The published numbers are listed below for reference.</p></section>`;
}

function renderSummary(m: PageModel): string {
  const byDataset = m.tables.map((t) => {
    const findings = m.findings.filter((f) => f.dataset === t.dataset);
    const items = findings.length
      ? findings.map((f) => `<li class="${f.established ? 'established' : 'not-established'}">${esc(f.sentence)} <a href="#${esc(f.groupAnchors[0])}">runs</a></li>`).join('')
      : `<li>No profile has LViT-T and a comparison model at the same label ratio, so nothing can be compared here.</li>`;
    return `<h3>${esc(t.datasetLabel)}</h3><ul class="findings">${items}</ul>`;
  });
  const none = m.tables.length === 0 ? '<p>There are no runs, so this reproduction shows nothing yet.</p>' : '';
  return `<section id="summary">
<h2>What this reproduction shows</h2>
<p class="note">Generated from the numbers below. A difference counts as established only when both models have at least two seeds and their mean ± std intervals do not overlap; otherwise it is reported as not established.</p>
${none}${byDataset.join('\n')}
<h3>Data caveats</h3>
<ul>${DATA_CAVEATS.map((c) => `<li>${esc(c)}</li>`).join('')}</ul>
<p class="note">${esc(NOT_AVAILABLE_NOTE)}</p>
</section>`;
}

function renderDataset(t: DatasetTable, m: PageModel): string {
  const profiles = [...new Set(t.rows.map((r) => r.profile))];
  const panels = m.panels.filter((p) => p.dataset === t.dataset);
  const ds = esc(t.dataset);
  const charts = `<div class="charts">
${chartCard(`Dice vs label ratio: ours (lines: mean, dots: seeds) and published (open triangles: verified README; open diamonds: secondary source)`, `data-chart="fraction" data-dataset="${ds}"`)}
${chartCard('Cost vs accuracy: wall time per run vs test Dice', `data-chart="cost" data-dataset="${ds}"`)}
${profiles.map((p) => chartCard(`Per-image test Dice (all seeds; bars: quartiles and median) · profile ${esc(p)}`, `data-chart="perimage" data-dataset="${ds}" data-profile="${esc(p)}"`)).join('\n')}
</div>`;
  const curves = t.rows
    .map((row) => chartCard(`${esc(row.modelLabel)} · ${row.labelPercent}% · ${esc(row.profile)}`, `data-chart="curves" data-group="${esc(row.groupAnchor)}"`, 'small'))
    .join('\n');
  return `<section class="dataset" id="ds-${ds}">
<h2>${esc(t.datasetLabel)}</h2>
${renderComparisonTable(t, m.downloads)}
${renderSemiSection(t.dataset, m.semi)}
${renderAblation(t.dataset, m.ablation)}
${renderPublishedTable(t.published, t.datasetLabel)}
<h3>Charts</h3>
<p class="note">Click a point of ours to open its run. Wall times were measured on whatever machine ran the profile and may be noisy.</p>
${charts}
<h3>Training curves</h3>
<p class="note">Solid: training loss (left axis). Dashed: validation Dice in % (right axis). One colour per seed. Semi-supervised runs add their loss terms (diceBCE on labelled batches, pseudo and lv on unlabelled ones) as thin dotted lines on the loss axis; each run's details list them per epoch.</p>
<div class="charts curves">${curves}</div>
${panels.map(renderPanel).join('\n')}
</section>`;
}

function chartCard(title: string, attrs: string, size = ''): string {
  return `<figure class="chart ${size}"><figcaption>${title}</figcaption><div class="canvas-box"><canvas ${attrs}></canvas></div></figure>`;
}

export function renderComparisonTable(t: DatasetTable, downloads: ReadonlyMap<string, ModelDownload> = new Map()): string {
  const head = `<tr><th>Model</th><th>Labels</th><th>Profile</th><th>n</th><th>Dice (ours)</th><th>IoU (ours)</th><th title="TP/FP/FN summed over the test set before dividing; not the paper's convention, so not compared with any published number">Dice / IoU pooled (ours)</th><th>Dice / IoU (published)</th><th>Source</th><th>Δ Dice / Δ IoU</th></tr>`;
  const body = t.rows.map((row) => renderRow(row, downloads.get(row.groupAnchor))).join('\n');
  return `<div class="table-wrap"><table class="comparison">
<caption>${esc(t.datasetLabel)}: our test scores (mean ± sample std over seeds; per-seed values under each mean, each linked to its run) next to the published number; the pooled column is a second convention, not compared with anything. Δ = ours (per image) − published, in points. The line under each row gives its note and provenance.</caption>
<thead>${head}</thead>
${body}
</table></div>`;
}

/** A row is a tbody of two lines: the numbers, then the note and provenance under them. */
function renderRow(row: ComparisonRow, download: ModelDownload | undefined): string {
  const p = row.published;
  const seedsTitle = row.perSeed.map((s) => `seed ${s.seed}: Dice ${fmt(s.dice)}, IoU ${fmt(s.iou)}`).join('; ');
  const seedLinks = (metric: 'dice' | 'iou') =>
    `<div class="seeds">${row.perSeed.map((s) => `<a href="#${esc(s.anchor)}" title="run ${esc(s.runId)}">s${s.seed}:&nbsp;${fmt(s[metric])}</a>`).join(' ')}</div>`;
  const ours = (metric: 'dice' | 'iou') =>
    `<td class="num ours"><a class="mean" href="#${esc(row.groupAnchor)}" title="${esc(seedsTitle)}">${fmtMeanStd(row[metric])}</a>${seedLinks(metric)}</td>`;
  const pooled = row.pooled
    ? `<td class="num pooled">${fmtMeanStd(row.pooled.dice)} / ${fmtMeanStd(row.pooled.iou)}</td>`
    : `<td class="num pooled" title="this row's results predate the pooled score">—</td>`;
  const published = p
    ? `<td class="num published">${fmt(p.dice)} / ${fmt(p.iou)}</td><td class="source">${sourceBadge(p)}</td>`
    : `<td class="not-published" colspan="2">not published here</td>`;
  const diff = row.diffDice === null ? `<td class="num">-</td>` : `<td class="num diff">${fmtSigned(row.diffDice)} / ${fmtSigned(row.diffIoU!)}</td>`;
  const nCell = `<td class="num">${row.n}${row.n === 1 ? '<br><span class="badge single">single seed</span>' : ''}</td>`;
  const profile = `<td>${esc(row.profile)} ${row.reduced ? reducedBadge() : fullBadge()}</td>`;
  const sourceNotes = p ? [p.note, ...row.publishedAlso.map((e) => `also in: ${e.sourceDetail}`)].filter(Boolean) : [];
  const sub = `<tr class="sub"><td colspan="10"><span class="row-note">${esc(rowNote(row))}.</span>${
    sourceNotes.length ? ` <span class="source-note">Published: ${esc(sentences(sourceNotes))}</span>` : ''
  } <span class="prov">${provenanceLine(row)}</span>${download ? ` ${downloadLink(download)}` : ''}</td></tr>`;
  const cls = row.reduced ? ' class="reduced-row"' : '';
  return `<tbody${cls}><tr class="main"><td class="model">${esc(row.modelLabel)}</td><td class="num">${row.labelPercent}%</td>${profile}${nCell}${ours('dice')}${ours('iou')}${pooled}${published}${diff}</tr>
${sub}</tbody>`;
}

function provenanceLine(row: ComparisonRow): string {
  const substitute = row.textEncoders.some((t) => t.includes('substitute'));
  return [
    `Provenance: ${esc(row.backends.join(', '))} on ${esc(row.devices.join(', '))}`,
    `text encoder ${esc(row.textEncoders.join('; '))}${substitute ? ' <span class="badge substitute">substitute text encoder</span>' : ''}`,
    `${row.imageSizes.map((s) => `${s}×${s}`).join(', ')} input, epochs ${row.epochsRun.join('/')}`,
    `<a href="#${esc(row.groupAnchor)}">runs and full provenance</a>`,
  ].join(' · ');
}

/** The panel's frame; assets/demo-client.js fills it from the embedded demo data. */
function renderTryIt(demo: DemoData): string {
  return `<section id="try-it"><h2>Try it: segment an image in this page</h2>
<p class="note">Each row's published model runs here with onnxruntime-web (WebAssembly, one thread; nothing leaves the page). Pick a model, then one of its run's test images (stored at the model's input size, so the page sees what the evaluation saw, and the run's own Dice for it is shown next to the page's), or drop your own image: the browser resizes it with its canvas (bilinear, close to but not the training's cv2 INTER_LINEAR). LViT-T runs with the sentences of its run's test images only: their features (from the run's own encoder) are bundled with the model, but the text encoder itself does not run in the page (BERT-base is a 440 MB download and the substitutes are native code), so a typed sentence needs <code>npx lvit predict --sentence</code>.</p>
<div class="demo">
<label>Model <select id="demo-model"></select></label>
<p id="demo-why" class="note"></p>
<div id="demo-images" class="demo-images"></div>
<div id="demo-drop" class="demo-drop">Drop an image here, or choose one: <input type="file" id="demo-file" accept="image/*"></div>
<label id="demo-sentence-box" hidden>Sentence for your image (LViT-T; features bundled with the model) <select id="demo-sentence"></select></label>
<p id="demo-status" class="demo-status" role="status">Pick a model and an image.</p>
<canvas id="demo-canvas" class="demo-canvas" width="0" height="0"></canvas>
</div>
<script type="application/json" id="demo-data">${jsonForScript(demo)}</script>
</section>`;
}

function downloadLink(d: ModelDownload): string {
  const size = d.bytes >= 2 ** 20 ? `${(d.bytes / 2 ** 20).toFixed(1)} MiB` : `${(d.bytes / 1024).toFixed(0)} KiB`;
  return `<span class="download">Model: <a href="${esc(d.href)}" download title="run ${esc(d.runId)}: best validation Dice of the row's seeds">ONNX, seed ${d.seed}, ${size}</a> <span class="sha256">sha256 <code>${esc(d.sha256)}</code></span> (<code>npx lvit predict --model FILE</code>)</span>`;
}

function sourceBadge(p: PublishedEntry): string {
  const cls = p.source.startsWith('verified') ? 'verified' : 'secondary';
  return `<span class="badge ${cls}" title="${esc(p.sourceDetail)}">${esc(p.source)}</span>`;
}

export function renderPublishedTable(entries: readonly PublishedEntry[], label: string): string {
  if (entries.length === 0) {
    return `<p class="note">RESULTS.md has no published numbers for ${esc(label)}: every cell is "not published here".</p>`;
  }
  const rows = entries
    .map((e) => `<tr><td>${esc(e.modelLabel)}</td><td class="num">${e.labelPercent}%</td><td class="num">${fmt(e.dice)}</td><td class="num">${fmt(e.iou)}</td><td>${sourceBadge(e)}</td><td class="also">${esc(whereFrom(e))}</td></tr>`)
    .join('\n');
  return `<details class="published-ref" open><summary>Published numbers for ${esc(label)} (all of them, from RESULTS.md)</summary>
<div class="table-wrap"><table class="published-table">
<thead><tr><th>Model</th><th>Labels</th><th>Dice</th><th>IoU</th><th>Source</th><th>Where from, note</th></tr></thead>
<tbody>
${rows}
</tbody></table></div>
<p class="note">${esc(NOT_AVAILABLE_NOTE)}</p>
</details>`;
}

/** Source document, note, and the other sources that give the same cell. */
function whereFrom(e: PublishedEntry): string {
  const others = findPublished(e.dataset, e.model, e.labelPercent)?.others ?? [];
  const parts = [e.sourceDetail, e.note, ...others.filter((o) => o !== e).map((o) => `also in (${o.source}): ${o.sourceDetail}`)];
  return sentences(parts);
}

/** Join fragments as sentences without doubled full stops. */
function sentences(parts: readonly string[]): string {
  const trimmed = parts.map((p) => p.trim().replace(/\.+$/, '')).filter(Boolean);
  return trimmed.length ? `${trimmed.join('. ')}.` : '';
}

function renderPublishedOnly(t: DatasetTable): string {
  return `<section class="dataset" id="ds-${esc(t.dataset)}"><h2>${esc(t.datasetLabel)} <span class="badge">no runs</span></h2>${renderPublishedTable(t.published, t.datasetLabel)}</section>`;
}

function renderPanel(panel: QualPanel): string {
  const images = panel.images
    .map((img) => {
      const tiles = img.tiles
        .map((tile) => {
          const pic = tile.src
            ? `<img src="${esc(tile.src)}" alt="${esc(`${tile.label}, ${img.id}`)}">`
            : `<div class="missing">${esc(tile.missing ?? 'missing')}</div>`;
          const label = tile.anchor ? `<a href="#${esc(tile.anchor)}">${esc(tile.label)}</a>` : esc(tile.label);
          const dice = tile.dice === undefined ? '' : `<span class="tile-dice">Dice ${fmt(tile.dice)}</span>`;
          return `<figure class="tile">${pic}<figcaption>${label}${dice}</figcaption></figure>`;
        })
        .join('');
      return `<div class="qual-image"><div class="tiles">${tiles}</div><p class="report-text"><code>${esc(img.id)}</code>: “${esc(img.text)}”</p></div>`;
    })
    .join('\n');
  return `<h3>Qualitative examples · profile ${esc(panel.profile)} ${panel.reduced ? reducedBadge() : fullBadge()}</h3>
<p class="note">Fixed test images. <span class="swatch gt"></span> green: ground truth (fill in the ground-truth tile, outline elsewhere); <span class="swatch pred"></span> pink: the model's prediction. Each prediction is from the lowest seed of its model and label ratio; the Dice is that run's score on this image. The report text is the sentence the text models read.</p>
<div class="qual">${images}</div>`;
}

function renderMethods(): string {
  return `<section id="methods"><h2>Methods and sources</h2>
<ul>
<li>Test metrics follow the official test script (LVIT.md §4): per image at the model's input size, prediction = sigmoid &gt; 0.5, Dice = 2|P∩G|/(|P|+|G|+1e-5), IoU = Jaccard; an image with empty prediction and empty ground truth scores 0. The scores are means over the test images (the paper's convention, and the only one compared with published numbers).</li>
<li>The "pooled" column sums TP, FP and FN over the whole test set before dividing (Dice = 2TP/(2TP+FP+FN), IoU = TP/(TP+FP+FN)), as some later text-guided papers report; it scores the same predictions higher and is never set against a published number. "—": the row's results were written before the pooled score was stored.</li>
<li>Ours: mean ± sample standard deviation (n − 1) over seeds; n = number of seeds. Each seed's value is listed and linked to its run.</li>
<li>A published value is "within the seed spread" when it lies inside our mean ± std. With one seed no spread exists, and no difference can be shown.</li>
<li>Published numbers come only from RESULTS.md of this project, each labelled <span class="badge verified">verified: official LViT README</span> or <span class="badge secondary">secondary source</span>. Cells it does not have say "not published here".</li>
<li>The tables are also in <a href="tables.csv">tables.csv</a> and <a href="tables.md">tables.md</a>; all chart data is in <a href="results.json">results.json</a>.</li>
<li>Charts drawn with Chart.js 4.6.1 (MIT licence, <a href="assets/chart.js-LICENSE.md">licence text</a>), bundled with this page; no network access is needed.</li>
</ul></section>`;
}

function distinctProfiles(runs: readonly LoadedRun[]): { name: string; reduced: boolean; description: string }[] {
  const seen = new Map<string, { name: string; reduced: boolean; description: string }>();
  for (const run of runs) {
    const p = run.result.profile;
    const prev = seen.get(p.name);
    seen.set(p.name, { name: p.name, reduced: (prev?.reduced ?? false) || p.reduced, description: p.description ?? '' });
  }
  return [...seen.values()].sort((a, b) => a.name.localeCompare(b.name));
}
