/**
 * The "try it" panel: each row's published model (models.ts) runs in the page with onnxruntime-web
 * (wasm, single thread). Everything is a classic script so the page works from file://, where
 * fetch() and module imports are blocked: the wasm binary and each model are base64 inside small
 * .js files, ORT's wasm glue module is a string the page turns into a blob: URL, and the test images
 * are data: URLs (a file:// image would taint the canvas).
 */
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { readOnnxModelInfo, type OnnxModelInfo } from '@lvit-bench/core';
import type { LoadedRun } from './load.js';
import { modelFileOf, publishedSeedOf, textFeaturesFileOf, type BundledTextFeatures, type ModelDownload } from './models.js';
import { groupAnchorOf, groupRuns } from './tables.js';
import { modelLabel } from './published.js';

/** Models above this size are download-only (base64 in the page costs 4/3 of it in memory). */
export const DEMO_MAX_MODEL_BYTES = 40 * 2 ** 20;
/**
 * At most this many model bytes are embedded in the site for the panel (a quick matrix has ~40 rows
 * of 4-8 MiB, which would double the site's size); the rest stay downloads.
 */
export const DEMO_MAX_EMBEDDED_BYTES = 96 * 2 ** 20;

export interface DemoCandidate {
  anchor: string;
  bytes: number;
  labelPercent: number;
  semiSupervised: boolean;
}

/**
 * The rows whose models the page embeds within `budget` bytes: supervised rows before
 * semi-supervised ones, more labels first, then in table order; a row that does not fit is skipped
 * and smaller ones after it may still fit.
 */
export function embeddedModels(candidates: readonly DemoCandidate[], budget = DEMO_MAX_EMBEDDED_BYTES): Set<string> {
  const order = candidates
    .map((c, index) => ({ ...c, index }))
    .sort((a, b) => Number(a.semiSupervised) - Number(b.semiSupervised) || b.labelPercent - a.labelPercent || a.index - b.index);
  const chosen = new Set<string>();
  let used = 0;
  for (const c of order) {
    if (c.bytes > DEMO_MAX_MODEL_BYTES || used + c.bytes > budget) continue;
    chosen.add(c.anchor);
    used += c.bytes;
  }
  return chosen;
}
const ORT_FILES = { runtime: 'ort.wasm.min.js', glue: 'ort-wasm-simd-threaded.mjs', wasm: 'ort-wasm-simd-threaded.wasm' };

export interface DemoImage {
  id: string;
  /** data: URLs of the test image (RGB, at the model size) and its ground truth. */
  image: string;
  groundTruth: string;
  /** The run's stored per-image test Dice (fraction), for comparison in the page. */
  dice: number | null;
  /** Text models: the image's sentence and its bundled [T*D] features (base64 float32). */
  text: string | null;
  features: string | null;
}

export interface DemoModel {
  anchor: string;
  label: string;
  runId: string;
  seed: number;
  inputShape: [number, number, number];
  channelOrder: 'bgr' | 'rgb';
  /** [T, D] of the text input, null for image-only models. */
  textShape: [number, number] | null;
  /** Site path of the script that defines the model bytes; null: not runnable here (see `why`). */
  script: string | null;
  why: string | null;
  images: DemoImage[];
}

export interface DemoData {
  ort: { runtime: string; glue: string; wasm: string };
  models: DemoModel[];
}

function dataUrl(path: string): string {
  return `data:image/png;base64,${readFileSync(path).toString('base64')}`;
}

/**
 * Copies onnxruntime-web and the models into `siteDir`; `demo` is null when no row has a usable
 * exported model. A model file that is not one of ours stays a download and gets a warning.
 */
export function buildDemo(runs: readonly LoadedRun[], downloads: ReadonlyMap<string, ModelDownload>, siteDir: string): { demo: DemoData | null; warnings: string[] } {
  const models: DemoModel[] = [];
  const warnings: string[] = [];
  const published = [...groupRuns(runs).values()].map(publishedSeedOf);
  const embedded = embeddedModels(
    published.flatMap((run) => {
      const download = downloads.get(groupAnchorOf(run));
      return download ? [{ anchor: groupAnchorOf(run), bytes: download.bytes, labelPercent: run.labelPercent, semiSupervised: run.result.semi !== undefined }] : [];
    }),
  );
  for (const run of published) {
    const anchor = groupAnchorOf(run);
    const download = downloads.get(anchor);
    if (!download) continue;
    const bytes = readFileSync(modelFileOf(run));
    let info: OnnxModelInfo;
    try {
      info = readOnnxModelInfo(bytes, modelFileOf(run));
    } catch (err) {
      warnings.push(`try-it panel: ${(err as Error).message}`);
      continue;
    }
    const runDir = dirname(run.file);
    const bundle = info.textShape ? readTextBundle(textFeaturesFileOf(modelFileOf(run)), info, warnings) : null;
    const why = info.textShape && !bundle
      ? `needs ${info.textEncoder!.name} text features: that encoder does not run in this page and this export bundles none (re-export with npx lvit export); use npx lvit predict --sentence`
      : download.bytes > DEMO_MAX_MODEL_BYTES
        ? `${(download.bytes / 2 ** 20).toFixed(0)} MiB is too large to embed; download it`
        : !embedded.has(anchor)
          ? `the page embeds at most ${DEMO_MAX_EMBEDDED_BYTES / 2 ** 20} MiB of models (supervised rows with the most labels first); download this one and use npx lvit predict`
          : null;
    let script: string | null = null;
    if (!why) {
      script = `${download.href}.js`;
      writeFileSync(join(siteDir, script), `(window.LVIT_DEMO_MODELS = window.LVIT_DEMO_MODELS || {})[${JSON.stringify(anchor)}] = "${bytes.toString('base64')}";\n`);
    }
    const images = run.result.qualitative
      .filter((q) => existsSync(join(runDir, q.image)) && existsSync(join(runDir, q.groundTruth)))
      .map((q) => ({
        id: q.id,
        image: dataUrl(join(runDir, q.image)),
        groundTruth: dataUrl(join(runDir, q.groundTruth)),
        dice: run.result.test.perImage.find((p) => p.id === q.id)?.dice ?? null,
        text: bundle ? q.text : null,
        features: bundle?.get(q.id) ?? null,
      }))
      // A text model can only run the images whose sentence features are bundled.
      .filter((img) => !info.textShape || img.features !== null);
    const label = `${modelLabel(run.result.model)} · ${run.result.dataset} · ${run.labelPercent}% · ${run.result.profile.name}`;
    models.push({ anchor, label, runId: run.result.runId, seed: run.result.seed, inputShape: info.inputShape, channelOrder: info.channelOrder, textShape: info.textShape, script, why, images });
  }
  return { demo: models.length === 0 ? null : { ort: copyOrtWeb(siteDir), models }, warnings };
}

/** The bundled sentence features by image id, or null (with a warning when the file is there but does not fit the model). */
function readTextBundle(file: string, info: OnnxModelInfo, warnings: string[]): Map<string, string> | null {
  if (!existsSync(file)) return null;
  let bundle: BundledTextFeatures;
  try {
    bundle = JSON.parse(readFileSync(file, 'utf8')) as BundledTextFeatures;
  } catch (err) {
    warnings.push(`try-it panel: ${file}: not valid JSON (${(err as Error).message})`);
    return null;
  }
  const [t, d] = info.textShape!;
  if (bundle.format !== 'lvit-bench/text-features@1' || bundle.encoder !== info.textEncoder!.name || bundle.shape?.[0] !== t || bundle.shape?.[1] !== d) {
    warnings.push(`try-it panel: ${file}: features of ${bundle.encoder} [${bundle.shape}] do not fit the model (${info.textEncoder!.name} [${t}, ${d}])`);
    return null;
  }
  return new Map(bundle.sentences.map((s) => [s.id, s.features]));
}

/** onnxruntime-web's classic-script build, its wasm glue as a string and its wasm as base64. */
function copyOrtWeb(siteDir: string): DemoData['ort'] {
  const dist = dirname(createRequire(import.meta.url).resolve('onnxruntime-web')); // .../onnxruntime-web/dist/ort.node.min.js
  const dir = join(siteDir, 'assets', 'ort');
  mkdirSync(dir, { recursive: true });
  for (const f of Object.values(ORT_FILES)) if (!existsSync(join(dist, f))) throw new Error(`demo.ts: onnxruntime-web file ${f} not found in ${dist}`);
  copyFileSync(join(dist, ORT_FILES.runtime), join(dir, ORT_FILES.runtime));
  const license = join(dist, '..', 'LICENSE');
  if (existsSync(license)) copyFileSync(license, join(dir, 'onnxruntime-web-LICENSE'));
  writeFileSync(join(dir, 'ort-glue.js'), `window.LVIT_ORT_GLUE = ${JSON.stringify(readFileSync(join(dist, ORT_FILES.glue), 'utf8'))};\n`);
  writeFileSync(join(dir, 'ort-wasm.js'), `window.LVIT_ORT_WASM = "${readFileSync(join(dist, ORT_FILES.wasm)).toString('base64')}";\n`);
  return { runtime: `assets/ort/${ORT_FILES.runtime}`, glue: 'assets/ort/ort-glue.js', wasm: 'assets/ort/ort-wasm.js' };
}
