/**
 * Reports -> LViT text tensors [N, 10, D]: `lvitPreprocessText` (EOF XXX padding, first line), the
 * encoder's per-word vectors (BERT: 25-wordpiece budget, ## averaged), the first 10 words kept and
 * missing rows zero.
 */
import { wordRows } from './assemble.js';
import { LVIT_TEXT_TOKENS, lvitPreprocessText } from './preprocess.js';
import type { TextEncoder } from './types.js';

/** Sentences per `encodeWords` call: bounds memory and lets callers persist progress between chunks. */
export const ENCODE_CHUNK = 256;

export interface SentenceRows {
  /** The first `tokens` words (fewer if the sentence is short). */
  words: string[];
  /** [tokens * dim], zero past the last word. */
  rows: Float32Array;
}

export function checkTokens(tokens: number): number {
  if (!Number.isInteger(tokens) || tokens <= 0) throw new Error(`text/features.ts: tokens must be a positive integer, got ${tokens}`);
  return tokens;
}

/** Encode already-preprocessed sentences to fixed [tokens, dim] blocks, in chunks. */
export async function encodeSentenceRows(
  sentences: string[],
  encoder: TextEncoder,
  tokens: number,
  onChunk?: (done: { sentence: string; result: SentenceRows }[]) => void,
): Promise<SentenceRows[]> {
  const dim = encoder.info.dim;
  const out: SentenceRows[] = [];
  for (let start = 0; start < sentences.length; start += ENCODE_CHUNK) {
    const chunk = sentences.slice(start, start + ENCODE_CHUNK);
    const encoded = await encoder.encodeWords(chunk);
    if (encoded.length !== chunk.length) {
      throw new Error(`text/features.ts: ${encoder.info.name} returned ${encoded.length} results for ${chunk.length} sentences`);
    }
    const results = encoded.map((e, i) => {
      if (e.vectors.length !== e.words.length * dim) {
        throw new Error(`text/features.ts: ${encoder.info.name} gave ${e.vectors.length} values for ${e.words.length} words of ${dim}-d ("${chunk[i]}")`);
      }
      return { words: e.words.slice(0, tokens), rows: wordRows(e, tokens, dim) };
    });
    onChunk?.(results.map((result, i) => ({ sentence: chunk[i], result })));
    out.push(...results);
  }
  return out;
}

/**
 * LViT text features of raw report texts: Float32Array [N, tokens, D] row-major
 * (tokens defaults to 10, D = encoder.info.dim). Each distinct preprocessed sentence is encoded once.
 */
export async function encodeReports(texts: string[], encoder: TextEncoder, opts: { tokens?: number } = {}): Promise<Float32Array> {
  const tokens = checkTokens(opts.tokens ?? LVIT_TEXT_TOKENS);
  const dim = encoder.info.dim;
  const sentences = texts.map(lvitPreprocessText);
  const unique = [...new Set(sentences)];
  const encoded = await encodeSentenceRows(unique, encoder, tokens);
  const bySentence = new Map(unique.map((s, i) => [s, encoded[i].rows]));
  const out = new Float32Array(texts.length * tokens * dim);
  sentences.forEach((s, i) => out.set(bySentence.get(s)!, i * tokens * dim));
  return out;
}
