/**
 * LViT's text preprocessing, as the official code does it (LVIT.md §3.4, TEXT.md §1):
 * `utils.read_text` pads short descriptions with " EOF XXX", the dataset keeps only line 0 of the
 * description, and `bert-embedding` tokenises it with a 25-wordpiece budget; the network then sees
 * the first 10 word vectors ([10, 768] for BERT-base).
 */

/** Word positions the network takes (`Conv1d(in_channels=10)` in LViT): hard-wired upstream. */
export const LVIT_TEXT_TOKENS = 10;
/** `bert-embedding`'s `max_seq_length`: wordpieces per line, [CLS] and [SEP] included. */
export const BERT_MAX_PIECES = 25;
/** `read_text` pads descriptions with fewer whitespace words than this. */
export const LVIT_MIN_WORDS = 9;

/** Python's `str.split()` word count (runs of whitespace, ends ignored). */
export function countWhitespaceWords(text: string): number {
  return text.split(/\s+/).filter((w) => w.length > 0).length;
}

/**
 * `read_text` + first-line selection: a description with fewer than 9 whitespace words gets
 * " EOF XXX" appended (9 - count) times, then only its first line is kept.
 * Order as upstream: the words are counted over the whole description and the padding goes at its
 * end, so for a multi-line description the padding lands on the last line (and is then dropped).
 * Example: "The nuclei are evenly distributed." -> "The nuclei are evenly distributed. EOF XXX EOF XXX EOF XXX EOF XXX".
 */
export function lvitPreprocessText(text: string): string {
  if (typeof text !== 'string') throw new Error(`text/preprocess.ts: expected a string description, got ${typeof text}`);
  const count = countWhitespaceWords(text);
  const padded = count < LVIT_MIN_WORDS ? text + ' EOF XXX'.repeat(LVIT_MIN_WORDS - count) : text;
  return padded.split('\n')[0];
}
