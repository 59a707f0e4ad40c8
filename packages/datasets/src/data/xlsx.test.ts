/**
 * The .xlsx reader on every cell form a text workbook can hold: files written by openpyxl
 * (fixtures/openpyxl, made by make_fixtures.py), LViT's own workbooks (Excel, shared strings with
 * phonetic runs), and hand-built XML for the forms openpyxl 3.0 does not write (s, str, rich text,
 * an empty <t/>, z, e).
 */
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { readLViTWorkbook } from './lvit-layout.js';
import { resolveDataRoot } from './paths.js';
import { tempDir, writeXlsxXml } from './test-fixtures.js';
import { readXlsxFirstSheet } from './xlsx.js';

const OPENPYXL = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'fixtures', 'openpyxl');

function column(path: string, col: number): Record<string, string> {
  return Object.fromEntries(readXlsxFirstSheet(path).map((r) => [r.cells[0], r.cells[col] ?? '']));
}

describe('openpyxl-written workbooks', () => {
  test('inline strings (an empty one has no <is>), numbers, booleans, formulas', () => {
    expect(column(join(OPENPYXL, 'cell-types.xlsx'), 1)).toEqual({
      Image: 'Description',
      text: 'Bilateral pulmonary infection & two <areas>.',
      unicode: 'Lésion — 肺',
      empty: '',
      integer: '3',
      float: '2.5',
      boolean: 'TRUE',
      formula: '', // openpyxl stores no cached value for a formula
    });
  });

  test('an empty Description is read as empty, then rejected with its row', () => {
    expect(() => readLViTWorkbook(join(OPENPYXL, 'test-text-empty-description.xlsx'))).toThrow(
      /test-text-empty-description\.xlsx row 3: empty Description for mask_sub-S9_ses-E8\.png/,
    );
  });
});

describe('hand-built cell forms', () => {
  const path = join(tempDir('xlsx'), 'forms.xlsx');
  writeXlsxXml(
    path,
    '<row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c></row>' +
      '<row r="2"><c r="A2" t="inlineStr"><is><t>empty-t</t></is></c><c r="B2" t="inlineStr"><is><t/></is></c></row>' +
      '<row r="3"><c r="A3" t="inlineStr"><is><t>rich</t></is></c><c r="B3" t="inlineStr"><is><r><t>Two </t></r><r><rPr><b/></rPr><t>areas</t></r></is></c></row>' +
      '<row r="5"><c r="A5" t="inlineStr"><is><t>str</t></is></c><c r="B5" t="str"><f>A1&amp;"!"</f><v>Image!</v></c></row>' +
      '<row r="6"><c r="A6" t="inlineStr"><is><t>shared-rich</t></is></c><c r="B6" t="s"><v>2</v></c></row>' +
      '<row r="7"><c r="A7" t="inlineStr"><is><t>stub</t></is></c><c r="B7" t="z"/></row>' +
      '<row r="8"><c r="C8" t="inlineStr"><is><t>third column only</t></is></c></row>' +
      '<row r="9"><c r="B9" t="inlineStr"></c></row>',
    ['<si><t>Image</t></si>', '<si><t>Description</t><phoneticPr fontId="1"/></si>', '<si><r><t>left </t></r><r><t>lung</t></r><rPh sb="0" eb="1"><t>PHONETIC</t></rPh></si>'],
  );
  const rows = readXlsxFirstSheet(path);

  test('shared strings (plain, rich, with phonetic runs), str, rich inline, empty <t/>, z', () => {
    expect(Object.fromEntries(rows.map((r) => [r.cells[0], r.cells[1] ?? '']))).toEqual({
      Image: 'Description',
      'empty-t': '',
      rich: 'Two areas',
      str: 'Image!',
      'shared-rich': 'left lung',
      stub: '',
      '': '',
    });
  });

  test('row numbers are the sheet\'s own; rows with no text are dropped; gaps in a row are empty cells', () => {
    expect(rows.map((r) => r.row)).toEqual([1, 2, 3, 5, 6, 7, 8]);
    expect(rows[6].cells).toEqual(['', '', 'third column only']);
  });

  test('error cells and bad shared-string indices name the cell', () => {
    const bad = join(tempDir('xlsx'), 'bad.xlsx');
    writeXlsxXml(bad, '<row r="1"><c r="B1" t="e"><v>#N/A</v></c></row>');
    expect(() => readXlsxFirstSheet(bad)).toThrow(/bad\.xlsx cell B1: the cell holds the error value #N\/A/);
    writeXlsxXml(bad, '<row r="1"><c r="A1" t="s"><v>4</v></c></row>', ['<si><t>x</t></si>']);
    expect(() => readXlsxFirstSheet(bad)).toThrow(/bad\.xlsx cell A1: shared string index "4" is outside the 1 shared strings/);
  });

  test('a file that is not a zip, or a zip without a workbook, names the file', () => {
    const bad = join(tempDir('xlsx'), 'text.xlsx');
    writeFileSync(bad, 'Image,Description\n');
    expect(() => readXlsxFirstSheet(bad)).toThrow(/text\.xlsx: not an \.xlsx workbook/);
  });
});

test("LViT's own workbooks (Excel, shared strings): header and first rows", () => {
  const rows = readXlsxFirstSheet(join(resolveDataRoot(), 'monuseg', 'raw', 'Train_text.xlsx'));
  expect(rows[0]).toEqual({ row: 1, cells: ['Image', 'Description'] });
  expect(rows.length).toBe(25);
  const book = readLViTWorkbook(join(resolveDataRoot(), 'monuseg', 'raw', 'Train_text.xlsx'));
  expect(book.get('TCGA-21-5786-01Z-00-DX1.png')?.text).toBe('The nuclei density in the upper right is high.');
});
