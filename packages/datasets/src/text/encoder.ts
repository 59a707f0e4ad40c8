/**
 * `openTextEncoder`: one entry point for LViT's frozen text encoder and its stand-ins.
 *   bert              bert-base-uncased (Xenova/bert-base-uncased, revision 'default', fp32 ONNX) via
 *                     transformers.js, from `modelDir` or the hub cache `<cacheDir>/hf-hub` (TEXT.md §6.1).
 *   use-lite          USE-lite, pretrained, offline from npm: the SUBSTITUTE when BERT is absent.
 *   tiny-random-bert  a generated random-weight BERT on bert's exact code path: tests/CI only.
 *   auto              bert if its files are present, else use-lite (and says so).
 */
import { join, resolve } from 'node:path';
import type { TextEncoderInfo } from '@lvit-bench/core';
import { resolveCacheDir } from '../data/paths.js';
import { missingBertFolderFiles } from './bert-folder.js';
import { generateTinyRandomBert, TINY_RANDOM_BERT_SHAPE } from './tiny-random-bert.js';
import { openBertFolder, readBertFolderConfig } from './transformers-encoder.js';
import { TEXT_ENCODER_NAMES, type OpenTextEncoderOptions, type TextEncoder, type TextEncoderName } from './types.js';
import { openUseLite } from './use-lite-encoder.js';

export const BERT_HUB_MODEL_ID = 'Xenova/bert-base-uncased';
/** The feature-extraction export (last_hidden_state); `main` is the fill-mask export (logits). */
export const BERT_HUB_REVISION = 'default';
const TINY_RANDOM_BERT_SEED = 0;

/** transformers.js' file cache under the suite's cache folder. */
export function textEncoderHubCacheDir(cacheDir?: string): string {
  return join(resolve(cacheDir ?? resolveCacheDir()), 'hf-hub');
}

/** Where `prepare-text-encoder` leaves bert-base-uncased (transformers.js keys non-main revisions by name). */
export function bertHubModelDir(cacheDir?: string): string {
  return join(textEncoderHubCacheDir(cacheDir), ...BERT_HUB_MODEL_ID.split('/'), BERT_HUB_REVISION);
}

/** The folder the `bert` encoder would load, and the files it still lacks (empty: ready). */
export function locateBertModel(opts: Pick<OpenTextEncoderOptions, 'modelDir' | 'cacheDir'> = {}): { dir: string; missing: string[] } {
  const dir = resolve(opts.modelDir ?? bertHubModelDir(opts.cacheDir));
  return { dir, missing: missingBertFolderFiles(dir) };
}

/** How to get BERT, and what happens meanwhile. */
export function bertMissingMessage(dir: string, missing: string[], mode: 'fallback' | 'bert-requested' | 'folder-given'): string {
  const lines = [
    `BERT-base uncased, the paper's text encoder, is not available: ${dir} lacks ${missing.join(', ')}.`,
    `To get it, either run \`npx lvit prepare-text-encoder\` (the scripts package's prepare-text-encoder: ` +
      `node scripts/dist/prepare-text-encoder.js [--cache-dir DIR]) once on a machine with Hugging Face hub access; ` +
      `it downloads ${BERT_HUB_MODEL_ID} (revision '${BERT_HUB_REVISION}', fp32 ONNX) into the hub cache so later runs load it offline;`,
    `or copy a folder holding config.json, tokenizer.json, tokenizer_config.json and onnx/model.onnx to ${dir} (or pass it as modelDir).`,
  ];
  lines.push(
    {
      fallback:
        'Using the substitute use-lite meanwhile (Universal Sentence Encoder lite, 512-d per-token features: pretrained, but NOT BERT; results are labelled as a substitute).',
      'bert-requested': "No substitute is used when 'bert' is asked for explicitly; ask for 'auto' to fall back to use-lite (USE-lite, 512-d, NOT BERT).",
      'folder-given': 'No substitute is used because this model folder was given explicitly; fix the folder or drop modelDir to let auto fall back to use-lite.',
    }[mode],
  );
  return lines.join('\n');
}

/** Open a text encoder by name; cheap (file checks, weight hash): models load on first encode. */
export async function openTextEncoder(name: TextEncoderName, opts: OpenTextEncoderOptions = {}): Promise<TextEncoder> {
  const log = opts.log ?? (() => undefined);
  switch (name) {
    case 'bert':
    case 'auto': {
      const bert = locateBertModel(opts);
      if (bert.missing.length === 0) return openBertFolder(bert.dir, bertInfo(bert.dir), log);
      // A folder named explicitly but broken is a mistake to report, not a reason to swap encoders.
      if (name === 'bert') throw new Error(bertMissingMessage(bert.dir, bert.missing, 'bert-requested'));
      if (opts.modelDir !== undefined) throw new Error(bertMissingMessage(bert.dir, bert.missing, 'folder-given'));
      log(bertMissingMessage(bert.dir, bert.missing, 'fallback'));
      return openUseLite(log);
    }
    case 'use-lite':
      return openUseLite(log);
    case 'tiny-random-bert': {
      const dir = resolve(opts.modelDir ?? join(opts.cacheDir ?? resolveCacheDir(), 'text-encoders', `tiny-random-bert-seed${TINY_RANDOM_BERT_SEED}`));
      if (missingBertFolderFiles(dir).length > 0) {
        log(`text encoder: generating tiny-random-bert (random weights) in ${dir}`);
        await generateTinyRandomBert(dir, { seed: TINY_RANDOM_BERT_SEED });
      }
      return openBertFolder(dir, bertInfo(dir), log);
    }
    default:
      throw new Error(`text/encoder.ts: unknown text encoder '${String(name)}'; choose one of ${TEXT_ENCODER_NAMES.join(', ')}`);
  }
}

/**
 * How to open again the encoder a run recorded (its `TextEncoderInfo.name`), or null for one that
 * cannot be reopened by name (e.g. a random-weight BERT of another shape).
 */
export function encoderNameForInfo(infoName: string): TextEncoderName | null {
  const byInfo: Record<string, TextEncoderName> = { 'bert-base-uncased': 'bert', 'use-lite': 'use-lite', 'tiny-random-bert': 'tiny-random-bert' };
  return byInfo[infoName] ?? null;
}

/** Info of a BERT folder: a generated random-weight folder is labelled as such whatever it was opened as. */
function bertInfo(dir: string): TextEncoderInfo {
  const config = readBertFolderConfig(dir);
  if (config.lvit_bench?.randomWeights) {
    const tiny = config.hidden_size === TINY_RANDOM_BERT_SHAPE.hiddenSize;
    return {
      name: tiny ? 'tiny-random-bert' : 'random-bert',
      dim: config.hidden_size,
      pretrained: false,
      substitute: true,
      description:
        `RANDOM weights (seed ${config.lvit_bench.seed ?? '?'}), BERT-shaped ${config.hidden_size}-d, bert-base-uncased tokenizer: ` +
        'exercises the code path, carries no language knowledge; never for reported numbers',
    };
  }
  return {
    name: 'bert-base-uncased',
    dim: config.hidden_size,
    pretrained: true,
    substitute: false,
    description:
      `BERT-base uncased (${BERT_HUB_MODEL_ID}, revision '${BERT_HUB_REVISION}', fp32 ONNX) from ${dir}, via transformers.js: ` +
      'last-layer per-token states, 25-wordpiece budget, [CLS]/[SEP] dropped, ## pieces averaged into words (as bert-embedding)',
  };
}
