/**
 * On-disk text features, one file per (encoder identity, token count, preprocessed sentence), so
 * training never runs the encoder twice for the same text (TEXT.md §5: the templated corpora have
 * few distinct sentences). Layout:
 *   <cacheDir>/text-features/<encoder>-<hash of format+cacheKey>/encoder.json      identity + info
 *   .../t<tokens>-<sha256(sentence)[:32]>.f32   [tokens, dim] float32 little-endian
 *   .../t<tokens>-<sha256(sentence)[:32]>.json  the sentence and the words that reached the model
 * Every file is written atomically; the .f32 goes last, so its presence means a complete entry.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TextEncoderInfo } from '@lvit-bench/core';
import { writeFileAtomic, writeJsonAtomic } from '@lvit-bench/core';
import { checkTokens, encodeSentenceRows, type SentenceRows } from './features.js';
import { sha256Hex } from '../data/sources.js';
import { LVIT_TEXT_TOKENS, lvitPreprocessText } from './preprocess.js';
import type { TextEncoder } from './types.js';

/** Bump when preprocessing or word assembly changes: old cache entries then stop matching. */
export const TEXT_FEATURES_FORMAT = 1;

export interface TextFeatureLookup {
  /** [tokens * dim] features of a text given at build time (shared: do not modify). */
  lookup: (text: string) => Float32Array;
  /** [tokens, dim]. */
  shape: [number, number];
  info: TextEncoderInfo;
}

export interface TextFeatureCacheOptions {
  cacheDir: string;
  tokens?: number;
  log?: (message: string) => void;
}

/** The folder holding one encoder's cached features. */
export function textFeatureCacheDir(cacheDir: string, encoder: Pick<TextEncoder, 'info' | 'cacheKey'>): string {
  const slug = encoder.info.name.replace(/[^A-Za-z0-9._-]+/g, '_');
  return join(cacheDir, 'text-features', `${slug}-${sha256Hex(`${TEXT_FEATURES_FORMAT}|${encoder.cacheKey}`).slice(0, 16)}`);
}

/**
 * Features for every text, from the cache where present; the rest are encoded once and stored.
 * `encoder` may be a factory (e.g. `() => openTextEncoder('auto', ...)`): it is called once to learn
 * the encoder's identity (cheap) and disposed here; the model itself loads only if a sentence is missing.
 */
export async function buildTextFeatureLookup(
  texts: string[],
  encoder: TextEncoder | (() => Promise<TextEncoder>),
  opts: TextFeatureCacheOptions,
): Promise<TextFeatureLookup> {
  if (!opts?.cacheDir) throw new Error('text/feature-cache.ts: buildTextFeatureLookup needs opts.cacheDir');
  const tokens = checkTokens(opts.tokens ?? LVIT_TEXT_TOKENS);
  const log = opts.log ?? (() => undefined);
  const owned = typeof encoder === 'function';
  const enc = owned ? await encoder() : encoder;
  try {
    const dim = enc.info.dim;
    const dir = textFeatureCacheDir(opts.cacheDir, enc);
    const entryPath = (sentence: string) => join(dir, `t${tokens}-${sha256Hex(sentence).slice(0, 32)}`);
    const sentenceOf = new Map(texts.map((t) => [t, lvitPreprocessText(t)]));
    const features = new Map<string, Float32Array>();
    const missing: string[] = [];
    for (const sentence of new Set(sentenceOf.values())) {
      const cached = readEntry(`${entryPath(sentence)}.f32`, tokens * dim);
      if (cached) features.set(sentence, cached);
      else missing.push(sentence);
    }
    if (missing.length > 0) {
      log(`text features: encoding ${missing.length} of ${features.size + missing.length} distinct sentences with ${enc.info.name} (cache ${dir})`);
      if (!existsSync(join(dir, 'encoder.json'))) {
        writeJsonAtomic(join(dir, 'encoder.json'), { format: TEXT_FEATURES_FORMAT, cacheKey: enc.cacheKey, info: enc.info });
      }
      await encodeSentenceRows(missing, enc, tokens, (chunk) => {
        for (const { sentence, result } of chunk) {
          writeEntry(entryPath(sentence), sentence, result);
          features.set(sentence, result.rows);
        }
      });
    }
    const lookup = (text: string): Float32Array => {
      const f = features.get(sentenceOf.get(text) ?? lvitPreprocessText(text));
      if (!f) throw new Error(`text/feature-cache.ts: no text features for "${text.slice(0, 80)}" (not among the texts given to buildTextFeatureLookup)`);
      return f;
    };
    return { lookup, shape: [tokens, dim], info: enc.info };
  } finally {
    if (owned) await enc.dispose();
  }
}

function readEntry(path: string, values: number): Float32Array | null {
  if (!existsSync(path)) return null;
  const bytes = readFileSync(path);
  if (bytes.byteLength !== values * 4) return null; // wrong size: re-encode and overwrite
  return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
}

function writeEntry(base: string, sentence: string, result: SentenceRows): void {
  writeJsonAtomic(`${base}.json`, { sentence, words: result.words });
  writeFileAtomic(`${base}.f32`, new Uint8Array(result.rows.buffer, result.rows.byteOffset, result.rows.byteLength));
}
