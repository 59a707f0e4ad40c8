/**
 * BERT uncased tokenisation in plain TypeScript, matching HF `tokenizers`' BertNormalizer
 * (clean text, CJK spacing, accent strip, lowercase) + BertPreTokenizer (whitespace and punctuation
 * split) + greedy longest-match-first WordPiece with `##` continuations and [UNK]. With the
 * bert-base-uncased vocab.txt it gives the ids of `bert-base-uncased` (and of GluonNLP's
 * `BERTTokenizer(lower=True)` that LViT's `bert-embedding` uses, up to GluonNLP's own id order).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { BERT_MAX_PIECES } from './preprocess.js';

/**
 * The standard bert-base-uncased vocab.txt (Google BERT, Apache-2.0; 30 522 lines, sha256
 * 07eced37...38a3), kept beside the sources. `../../src/text/` resolves from both src/text and dist/text.
 */
export const BERT_BASE_UNCASED_VOCAB_PATH = fileURLToPath(new URL('../../src/text/bert-base-uncased-vocab.txt', import.meta.url));

export const BERT_SPECIAL_TOKENS = { pad: '[PAD]', unk: '[UNK]', cls: '[CLS]', sep: '[SEP]', mask: '[MASK]' } as const;

const MAX_INPUT_CHARS_PER_WORD = 100;
const CONTINUATION_PREFIX = '##';

export interface WordPieceEncoding {
  /** Token ids, [CLS] first and [SEP] last. */
  ids: number[];
  /** The same tokens as strings. */
  pieces: string[];
}

export class WordPieceTokenizer {
  readonly vocab: readonly string[];
  private readonly ids: Map<string, number>;

  constructor(vocab: readonly string[]) {
    if (vocab.length === 0) throw new Error('text/wordpiece.ts: empty vocabulary');
    this.vocab = vocab;
    this.ids = new Map(vocab.map((token, id) => [token, id]));
    for (const special of Object.values(BERT_SPECIAL_TOKENS)) {
      if (!this.ids.has(special)) throw new Error(`text/wordpiece.ts: vocabulary lacks ${special}`);
    }
  }

  /** One token per line, id = line number - 1 (HF/Google vocab.txt format). */
  static fromVocabFile(path: string = BERT_BASE_UNCASED_VOCAB_PATH): WordPieceTokenizer {
    const lines = readFileSync(path, 'utf8').split('\n');
    if (lines[lines.length - 1] === '') lines.pop();
    return new WordPieceTokenizer(lines.map((l) => l.replace(/\r$/, '')));
  }

  idOf(token: string): number {
    const id = this.ids.get(token);
    if (id === undefined) throw new Error(`text/wordpiece.ts: token '${token}' is not in the vocabulary`);
    return id;
  }

  /** BertNormalizer(clean_text, handle_chinese_chars, strip_accents, lowercase). */
  normalize(text: string): string {
    let out = '';
    for (const ch of text) {
      const cp = ch.codePointAt(0)!;
      if (cp === 0 || cp === 0xfffd || isControl(ch)) continue;
      if (isWhitespace(ch)) out += ' ';
      else if (isChineseChar(cp)) out += ` ${ch} `;
      else out += ch;
    }
    return out.normalize('NFD').replace(/\p{Mn}/gu, '').toLowerCase();
  }

  /** BertPreTokenizer: split on whitespace, and isolate every punctuation character. */
  preTokenize(normalized: string): string[] {
    const words: string[] = [];
    for (const chunk of normalized.split(/\s+/u)) {
      let current = '';
      for (const ch of chunk) {
        if (isPunctuation(ch)) {
          if (current) words.push(current);
          words.push(ch);
          current = '';
        } else current += ch;
      }
      if (current) words.push(current);
    }
    return words;
  }

  /** Greedy longest-match-first WordPiece of one word; the whole word is [UNK] if any part fails. */
  wordPiece(word: string): string[] {
    const chars = Array.from(word);
    if (chars.length > MAX_INPUT_CHARS_PER_WORD) return [BERT_SPECIAL_TOKENS.unk];
    const pieces: string[] = [];
    for (let start = 0; start < chars.length; ) {
      let end = chars.length;
      let match: string | null = null;
      while (start < end) {
        const piece = (start > 0 ? CONTINUATION_PREFIX : '') + chars.slice(start, end).join('');
        if (this.ids.has(piece)) {
          match = piece;
          break;
        }
        end--;
      }
      if (match === null) return [BERT_SPECIAL_TOKENS.unk];
      pieces.push(match);
      start = end;
    }
    return pieces;
  }

  /** Wordpieces of a text, without special tokens. */
  tokenize(text: string): string[] {
    return this.preTokenize(this.normalize(text)).flatMap((w) => this.wordPiece(w));
  }

  /** `[CLS] pieces [SEP]`, the pieces cut so the whole fits `maxLength` (bert-embedding: 25). */
  encode(text: string, opts: { maxLength?: number } = {}): WordPieceEncoding {
    const maxLength = opts.maxLength ?? BERT_MAX_PIECES;
    if (!Number.isInteger(maxLength) || maxLength < 2) throw new Error(`text/wordpiece.ts: maxLength must be an integer >= 2, got ${maxLength}`);
    const pieces = [BERT_SPECIAL_TOKENS.cls, ...this.tokenize(text).slice(0, maxLength - 2), BERT_SPECIAL_TOKENS.sep];
    return { ids: pieces.map((p) => this.idOf(p)), pieces };
  }
}

let defaultTokenizer: WordPieceTokenizer | null = null;

/** The bert-base-uncased tokenizer (vocab read once per process). */
export function bertBaseUncasedTokenizer(): WordPieceTokenizer {
  defaultTokenizer ??= WordPieceTokenizer.fromVocabFile(BERT_BASE_UNCASED_VOCAB_PATH);
  return defaultTokenizer;
}

function isWhitespace(ch: string): boolean {
  return ch === ' ' || ch === '\t' || ch === '\n' || ch === '\r' || /\p{Zs}/u.test(ch);
}

function isControl(ch: string): boolean {
  if (ch === '\t' || ch === '\n' || ch === '\r') return false;
  return /\p{C}/u.test(ch);
}

/** ASCII punctuation (so `$`, `^`, `+`, ... count too) or any Unicode P* character. */
function isPunctuation(ch: string): boolean {
  const cp = ch.codePointAt(0)!;
  if ((cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) || (cp >= 123 && cp <= 126)) return true;
  return /\p{P}/u.test(ch);
}

/** CJK Unified Ideographs blocks, as in BERT's `_is_chinese_char`. */
function isChineseChar(cp: number): boolean {
  return (
    (cp >= 0x4e00 && cp <= 0x9fff) ||
    (cp >= 0x3400 && cp <= 0x4dbf) ||
    (cp >= 0x20000 && cp <= 0x2a6df) ||
    (cp >= 0x2a700 && cp <= 0x2b73f) ||
    (cp >= 0x2b740 && cp <= 0x2b81f) ||
    (cp >= 0x2b820 && cp <= 0x2ceaf) ||
    (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0x2f800 && cp <= 0x2fa1f)
  );
}
