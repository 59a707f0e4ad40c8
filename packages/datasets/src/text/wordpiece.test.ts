import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { describe, expect, test } from 'vitest';
import { BERT_BASE_UNCASED_VOCAB_PATH, bertBaseUncasedTokenizer, WordPieceTokenizer } from './wordpiece.js';

/*
 * Expected ids are bert-base-uncased's. They were read off vocab.txt by line number (id = line - 1,
 * e.g. `grep -n -x pulmonary vocab.txt` -> 21909) and the ## splits worked out by hand with greedy
 * longest match (e.g. "unilateral": "unilateral", "unilatera", ..., "uni" absent, "un" present;
 * then "##ila" longest, "##tera", "##l"). The test also re-reads the vocab file itself so each
 * expected piece is checked against its line, independently of the tokenizer's own map.
 */
const vocabLines = readFileSync(BERT_BASE_UNCASED_VOCAB_PATH, 'utf8').split('\n');
const tok = bertBaseUncasedTokenizer();

function expectIds(text: string, pieces: string[], ids: number[]) {
  const enc = tok.encode(text);
  expect(enc.pieces).toEqual(pieces);
  expect(enc.ids).toEqual(ids);
  ids.forEach((id, i) => expect(vocabLines[id]).toBe(pieces[i]));
}

describe('bert-base-uncased WordPiece', () => {
  test('the vocab file is the standard bert-base-uncased vocab.txt', () => {
    const bytes = readFileSync(BERT_BASE_UNCASED_VOCAB_PATH);
    expect(bytes.byteLength).toBe(231508);
    expect(createHash('sha256').update(bytes).digest('hex')).toBe('07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3');
    expect(tok.vocab.length).toBe(30522);
    expect([tok.idOf('[PAD]'), tok.idOf('[UNK]'), tok.idOf('[CLS]'), tok.idOf('[SEP]'), tok.idOf('[MASK]'), tok.idOf('the')]).toEqual([0, 100, 101, 102, 103, 1996]);
  });

  test('QaTa report (LVIT.md §3.4)', () => {
    expectIds(
      'Bilateral pulmonary infection, two infected areas, all left lung and all right lung.',
      ['[CLS]', 'bilateral', 'pulmonary', 'infection', ',', 'two', 'infected', 'areas', ',', 'all', 'left', 'lung', 'and', 'all', 'right', 'lung', '.', '[SEP]'],
      [101, 17758, 21908, 8985, 1010, 2048, 10372, 2752, 1010, 2035, 2187, 11192, 1998, 2035, 2157, 11192, 1012, 102],
    );
  });

  test('QaTa report with ## splits and the typo "midlle"', () => {
    expectIds(
      'Unilateral pulmonary infection, one infected area, upper midlle left lung.',
      ['[CLS]', 'un', '##ila', '##tera', '##l', 'pulmonary', 'infection', ',', 'one', 'infected', 'area', ',', 'upper', 'mid', '##lle', 'left', 'lung', '.', '[SEP]'],
      [101, 4895, 11733, 14621, 2140, 21908, 8985, 1010, 2028, 10372, 2181, 1010, 3356, 3054, 6216, 2187, 11192, 1012, 102],
    );
  });

  test('MoNuSeg sentence: exactly 10 basic tokens', () => {
    expectIds(
      'The nuclei density in the upper right is high.',
      ['[CLS]', 'the', 'nuclei', 'density', 'in', 'the', 'upper', 'right', 'is', 'high', '.', '[SEP]'],
      [101, 1996, 23767, 4304, 1999, 1996, 3356, 2157, 2003, 2152, 1012, 102],
    );
  });

  test('EOF XXX padding splits into e ##of xx ##x', () => {
    expectIds('EOF XXX', ['[CLS]', 'e', '##of', 'xx', '##x', '[SEP]'], [101, 1041, 11253, 22038, 2595, 102]);
  });

  test('missing space after a comma, accents, hyphens and digits', () => {
    expect(tok.encode('two infected areas,lower left lung').ids).toEqual([101, 2048, 10372, 2752, 1010, 2896, 2187, 11192, 102]);
    expectIds(
      'Café naïve COVID-19 ground-glass',
      ['[CLS]', 'cafe', 'naive', 'co', '##vid', '-', '19', 'ground', '-', 'glass', '[SEP]'],
      [101, 7668, 15743, 2522, 17258, 1011, 2539, 2598, 1011, 3221, 102],
    );
  });

  test('unknown words become one [UNK]; control characters vanish; tabs and newlines are spaces', () => {
    expect(tok.tokenize('lung \u{1F600} lung')).toEqual(['lung', '[UNK]', 'lung']);
    expect(tok.tokenize('left\u0000\u200blung\tright\nlung')).toEqual(['leftlung', 'right', 'lung'].flatMap((w) => tok.wordPiece(w)));
    expect(tok.wordPiece('a'.repeat(101))).toEqual(['[UNK]']);
  });

  test('25-piece budget: [CLS] + first 23 pieces + [SEP]', () => {
    const text = Array.from({ length: 30 }, (_, i) => (i % 2 ? 'left' : 'lung')).join(' ');
    const enc = tok.encode(text);
    expect(enc.ids.length).toBe(25);
    expect(enc.pieces[0]).toBe('[CLS]');
    expect(enc.pieces[24]).toBe('[SEP]');
    expect(enc.pieces.slice(1, 24)).toEqual(tok.tokenize(text).slice(0, 23));
    expect(tok.encode(text, { maxLength: 4 }).pieces).toEqual(['[CLS]', 'lung', 'left', '[SEP]']);
  });

  test('a vocabulary without the special tokens is rejected', () => {
    expect(() => new WordPieceTokenizer(['a', 'b'])).toThrow(/lacks \[PAD\]/);
  });
});
