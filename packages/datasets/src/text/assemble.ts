/**
 * From per-piece encoder outputs to LViT's per-word rows.
 * `bert-embedding` (oov_way='avg', filter_spec_tokens=True): skip [CLS]/[SEP], stop at [PAD],
 * merge each `##` piece into the word before it and average the vectors of a word's pieces.
 * USE-lite's SentencePiece pieces are merged the same way, a new word starting at each '▁'.
 */
import { BERT_SPECIAL_TOKENS } from './wordpiece.js';

/** Words of one sentence and their vectors, [words.length * dim] row-major. */
export interface EncodedWords {
  words: string[];
  vectors: Float32Array;
}

const SENTENCEPIECE_SPACE = '\u2581';

/** BERT wordpieces -> words (`bert-embedding`'s `oov()`); `vectors` is [pieces.length * dim]. */
export function assembleWordPieces(pieces: readonly string[], vectors: Float32Array, dim: number): EncodedWords {
  checkPieceVectors('assembleWordPieces', pieces.length, vectors, dim);
  const groups: { word: string; rows: number[] }[] = [];
  for (let i = 0; i < pieces.length; i++) {
    const piece = pieces[i];
    if (piece === BERT_SPECIAL_TOKENS.pad) break;
    if (piece === BERT_SPECIAL_TOKENS.cls || piece === BERT_SPECIAL_TOKENS.sep) continue;
    const last = groups[groups.length - 1];
    if (piece.startsWith('##') && last) {
      last.word += piece.slice(2);
      last.rows.push(i);
    } else groups.push({ word: piece, rows: [i] });
  }
  return averageGroups(groups, vectors, dim);
}

/** SentencePiece pieces -> words: a piece starting with '▁' opens a word, others extend the last one. */
export function assembleSentencePieces(pieces: readonly string[], vectors: Float32Array, dim: number): EncodedWords {
  checkPieceVectors('assembleSentencePieces', pieces.length, vectors, dim);
  const groups: { word: string; rows: number[] }[] = [];
  for (let i = 0; i < pieces.length; i++) {
    const piece = pieces[i];
    const last = groups[groups.length - 1];
    if (piece.startsWith(SENTENCEPIECE_SPACE) || !last) groups.push({ word: piece.replace(SENTENCEPIECE_SPACE, ''), rows: [i] });
    else {
      last.word += piece;
      last.rows.push(i);
    }
  }
  return averageGroups(groups, vectors, dim);
}

/**
 * The first `tokens` word vectors of a sentence as a [tokens * dim] block; rows past the last word
 * are zero (upstream never needed this because of the EOF XXX padding; we pad instead of failing).
 */
export function wordRows(encoded: EncodedWords, tokens: number, dim: number): Float32Array {
  const out = new Float32Array(tokens * dim);
  const keep = Math.min(tokens, encoded.words.length);
  out.set(encoded.vectors.subarray(0, keep * dim));
  return out;
}

function averageGroups(groups: { word: string; rows: number[] }[], vectors: Float32Array, dim: number): EncodedWords {
  const out = new Float32Array(groups.length * dim);
  groups.forEach((g, w) => {
    const dst = out.subarray(w * dim, (w + 1) * dim);
    for (const row of g.rows) {
      const src = vectors.subarray(row * dim, (row + 1) * dim);
      for (let d = 0; d < dim; d++) dst[d] += src[d];
    }
    if (g.rows.length > 1) for (let d = 0; d < dim; d++) dst[d] /= g.rows.length;
  });
  return { words: groups.map((g) => g.word), vectors: out };
}

function checkPieceVectors(fn: string, pieces: number, vectors: Float32Array, dim: number): void {
  if (!Number.isInteger(dim) || dim <= 0) throw new Error(`text/assemble.ts ${fn}: dim must be a positive integer, got ${dim}`);
  if (vectors.length < pieces * dim) {
    throw new Error(`text/assemble.ts ${fn}: ${pieces} pieces need ${pieces * dim} values, got ${vectors.length}`);
  }
}
