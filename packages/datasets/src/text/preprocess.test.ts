import { describe, expect, test } from 'vitest';
import { assembleSentencePieces, assembleWordPieces, wordRows } from './assemble.js';
import { encodeReports } from './features.js';
import { countWhitespaceWords, lvitPreprocessText } from './preprocess.js';
import type { TextEncoder } from './types.js';
import { bertBaseUncasedTokenizer } from './wordpiece.js';

describe('lvitPreprocessText (utils.read_text + first line)', () => {
  test('short descriptions get " EOF XXX" x (9 - words)', () => {
    expect(lvitPreprocessText('The nuclei are evenly distributed.')).toBe(
      'The nuclei are evenly distributed. EOF XXX EOF XXX EOF XXX EOF XXX',
    );
    expect(lvitPreprocessText('one two three four five six seven eight')).toBe('one two three four five six seven eight EOF XXX');
    expect(lvitPreprocessText('')).toBe(' EOF XXX'.repeat(9));
  });

  test('9 or more words are left alone', () => {
    const nine = 'The nuclei density in the upper right is high.';
    expect(countWhitespaceWords(nine)).toBe(9);
    expect(lvitPreprocessText(nine)).toBe(nine);
    const qata = 'Bilateral pulmonary infection, two infected areas, all left lung and all right lung.';
    expect(lvitPreprocessText(qata)).toBe(qata);
  });

  test('words are counted over all lines, padding goes at the end, then only line 0 is kept', () => {
    // 2 + 3 = 5 words -> 4 pads appended after the last line, which is then dropped.
    expect(lvitPreprocessText('Nuclei sparse.\nSecond line here')).toBe('Nuclei sparse.');
    expect(lvitPreprocessText('a b c d e f g h i j\nk')).toBe('a b c d e f g h i j');
    expect(countWhitespaceWords('  a\t b \n c  ')).toBe(3);
  });
});

describe('word assembly (bert-embedding oov_way=avg)', () => {
  test('hand example: ## pieces averaged into the word before, [CLS]/[SEP] dropped, stop at [PAD]', () => {
    const pieces = ['[CLS]', 'un', '##ila', '##tera', '##l', 'lung', '.', '[SEP]', '[PAD]', 'ignored'];
    // piece i has vector [i, 10 i]
    const vectors = Float32Array.from(pieces.flatMap((_, i) => [i, 10 * i]));
    const out = assembleWordPieces(pieces, vectors, 2);
    expect(out.words).toEqual(['unilateral', 'lung', '.']);
    // unilateral = mean of pieces 1..4 = [2.5, 25]; lung = piece 5; '.' = piece 6
    expect(Array.from(out.vectors)).toEqual([2.5, 25, 5, 50, 6, 60]);
  });

  test('SentencePiece: a new word at each ▁, others appended and averaged', () => {
    const pieces = ['▁Bi', 'late', 'ral', '▁lung', ',', '▁E', 'O', 'F'];
    const vectors = Float32Array.from(pieces.map((_, i) => i));
    const out = assembleSentencePieces(pieces, vectors, 1);
    expect(out.words).toEqual(['Bilateral', 'lung,', 'EOF']);
    expect(Array.from(out.vectors)).toEqual([1, 3.5, 6]);
  });

  test('wordRows keeps the first rows and zero-pads', () => {
    const enc = { words: ['a', 'b', 'c'], vectors: Float32Array.from([1, 2, 3, 4, 5, 6]) };
    expect(Array.from(wordRows(enc, 2, 2))).toEqual([1, 2, 3, 4]);
    expect(Array.from(wordRows(enc, 4, 2))).toEqual([1, 2, 3, 4, 5, 6, 0, 0]);
  });

  test('size mismatches are errors', () => {
    expect(() => assembleWordPieces(['a', 'b'], new Float32Array(3), 2)).toThrow(/2 pieces need 4 values/);
  });
});

/**
 * A fake encoder on the real tokenizer: piece vector = [vocab id, position in the sentence].
 * The expected rows below are worked out by hand from the vocab ids.
 */
function fakePieceEncoder(): TextEncoder & { calls: string[][] } {
  const tok = bertBaseUncasedTokenizer();
  const calls: string[][] = [];
  return {
    calls,
    info: { name: 'fake-pieces', dim: 2, pretrained: false, substitute: true, description: 'test double' },
    cacheKey: 'fake-pieces|v1',
    async encodeWords(sentences) {
      calls.push([...sentences]);
      return sentences.map((s) => {
        const { ids, pieces } = tok.encode(s);
        return assembleWordPieces(pieces, Float32Array.from(ids.flatMap((id, pos) => [id, pos])), 2);
      });
    },
    async dispose() {},
  };
}

describe('encodeReports', () => {
  test('[N, 10, D] with LViT preprocessing, ## averaging and zero rows', async () => {
    const enc = fakePieceEncoder();
    const texts = ['Unilateral lung.', 'The nuclei density in the upper right is high.', 'Unilateral lung.'];
    const out = await encodeReports(texts, enc);
    expect(out.length).toBe(3 * 10 * 2);
    expect(enc.calls).toEqual([
      ['Unilateral lung. EOF XXX EOF XXX EOF XXX EOF XXX EOF XXX EOF XXX EOF XXX', 'The nuclei density in the upper right is high.'],
    ]);
    const row = (n: number, w: number) => Array.from(out.subarray((n * 10 + w) * 2, (n * 10 + w + 1) * 2));
    // "unilateral" = un(4895, pos 1) ##ila(11733, 2) ##tera(14621, 3) ##l(2140, 4): mean id 8347.25, mean pos 2.5
    expect(row(0, 0)).toEqual([8347.25, 2.5]);
    expect(row(0, 1)).toEqual([11192, 5]); // lung
    expect(row(0, 2)).toEqual([1012, 6]); // .
    expect(row(0, 3)).toEqual([1041 / 2 + 11253 / 2, 7.5]); // eof = e ##of
    expect(row(0, 4)).toEqual([22038 / 2 + 2595 / 2, 9.5]); // xxx = xx ##x
    // MoNuSeg sentence: exactly 10 words, the last one '.'; nothing zero.
    expect(row(1, 0)).toEqual([1996, 1]);
    expect(row(1, 9)).toEqual([1012, 10]);
    expect(row(2, 0)).toEqual(row(0, 0));
  });

  test('a line too short to reach 10 words leaves zero rows', async () => {
    const out = await encodeReports(['Nuclei sparse.\nsecond line'], fakePieceEncoder());
    // line 0 "Nuclei sparse." = nuclei sparse . -> 3 words
    expect(Array.from(out.subarray(3 * 2))).toEqual(new Array(7 * 2).fill(0));
    expect(out[0]).toBe(23767);
  });

  test('tokens option and its validation', async () => {
    expect((await encodeReports(['a b'], fakePieceEncoder(), { tokens: 14 })).length).toBe(14 * 2);
    await expect(encodeReports(['a'], fakePieceEncoder(), { tokens: 0 })).rejects.toThrow(/tokens must be a positive integer/);
  });
});
