/**
 * A small reader for the first sheet of an .xlsx workbook (LViT's text files), as plain strings.
 * It reads every cell form that Excel and openpyxl write: `s` (shared string, also rich text),
 * `inlineStr` (with `<is><t>`, rich-text runs, an empty `<t/>` or no `<is>` at all, which openpyxl
 * writes for an empty string), `str` (formula text), `n` and `d` (the stored text of the number or
 * date), `b` (TRUE/FALSE), `z` and value-less cells (empty). An `e` (error) cell is an error that
 * names the cell. Row numbers are the sheet's own (`<row r>`), so messages match what Excel shows.
 */
import { readFileSync } from 'node:fs';
import { DOMParser } from '@xmldom/xmldom';
import { unzipSync } from 'fflate';

export interface XlsxRow {
  /** 1-based row number as in the sheet. */
  row: number;
  /** Cell text by 0-based column (A = 0); gaps are ''. */
  cells: string[];
}

const REL_NS_ID = 'http://schemas.openxmlformats.org/officeDocument/2006/relationships';

function childElements(node: Node, localName: string): Element[] {
  const out: Element[] = [];
  for (let c = node.firstChild; c !== null; c = c.nextSibling) {
    if (c.nodeType === 1 && (c as Element).localName === localName) out.push(c as Element);
  }
  return out;
}

function descendants(node: Document | Element, localName: string): Element[] {
  return Array.from(node.getElementsByTagNameNS('*', localName));
}

/** The text of a string item (`<si>` or `<is>`): its `<t>`, or its rich-text runs `<r><t>` joined; phonetic runs (`<rPh>`) are not text. */
function stringItemText(item: Element): string {
  const plain = childElements(item, 't');
  if (plain.length > 0) return plain.map((t) => t.textContent ?? '').join('');
  return childElements(item, 'r')
    .flatMap((r) => childElements(r, 't'))
    .map((t) => t.textContent ?? '')
    .join('');
}

/** "B12" -> 1 (0-based column). */
function columnOf(ref: string, where: string): number {
  const m = /^([A-Z]+)\d+$/.exec(ref);
  if (!m) throw new Error(`${where}: cell reference "${ref}" is not like B12`);
  let col = 0;
  for (const ch of m[1]) col = col * 26 + (ch.charCodeAt(0) - 64);
  return col - 1;
}

class Workbook {
  private readonly files: Record<string, Uint8Array>;

  constructor(readonly path: string) {
    let bytes: Uint8Array;
    try {
      bytes = readFileSync(path);
    } catch (err) {
      throw new Error(`${path}: cannot read workbook (${(err as Error).message})`);
    }
    try {
      this.files = unzipSync(bytes);
    } catch (err) {
      throw new Error(`${path}: not an .xlsx workbook (not a readable zip archive: ${(err as Error).message})`);
    }
  }

  has(part: string): boolean {
    return this.files[part] !== undefined;
  }

  xml(part: string): Document {
    const bytes = this.files[part];
    if (bytes === undefined) throw new Error(`${this.path}: not an .xlsx workbook (no ${part} inside)`);
    const fail = (msg: string) => {
      throw new Error(`${this.path}: ${part} is not well-formed XML (${msg})`);
    };
    return new DOMParser({ errorHandler: { error: fail, fatalError: fail } }).parseFromString(new TextDecoder().decode(bytes), 'text/xml');
  }

  /** The zip path of the first sheet in workbook order (what Excel opens first). */
  firstSheetPart(): string {
    const sheet = descendants(this.xml('xl/workbook.xml'), 'sheet')[0];
    if (sheet === undefined) throw new Error(`${this.path}: the workbook has no sheet`);
    const id = sheet.getAttributeNS(REL_NS_ID, 'id');
    const rel = descendants(this.xml('xl/_rels/workbook.xml.rels'), 'Relationship').find((r) => r.getAttribute('Id') === id);
    const target = rel?.getAttribute('Target');
    if (!target) throw new Error(`${this.path}: no relationship ${id} for sheet "${sheet.getAttribute('name')}"`);
    return target.startsWith('/') ? target.slice(1) : `xl/${target}`;
  }

  sharedStrings(): string[] {
    if (!this.has('xl/sharedStrings.xml')) return [];
    return descendants(this.xml('xl/sharedStrings.xml'), 'si').map(stringItemText);
  }
}

function cellText(c: Element, shared: string[], where: string): string {
  const type = c.getAttribute('t') || 'n';
  const v = childElements(c, 'v')[0]?.textContent ?? '';
  switch (type) {
    case 'inlineStr': {
      const is = childElements(c, 'is')[0];
      return is === undefined ? '' : stringItemText(is);
    }
    case 's': {
      const k = Number(v);
      if (v === '' || !Number.isInteger(k) || k < 0 || k >= shared.length) {
        throw new Error(`${where}: shared string index "${v}" is outside the ${shared.length} shared strings`);
      }
      return shared[k];
    }
    case 'b':
      if (v === '') return '';
      if (v !== '0' && v !== '1') throw new Error(`${where}: boolean cell holds "${v}"`);
      return v === '1' ? 'TRUE' : 'FALSE';
    case 'e':
      throw new Error(`${where}: the cell holds the error value ${v || '(none)'}`);
    case 'str':
    case 'n':
    case 'd':
    case 'z':
      return v;
    default:
      throw new Error(`${where}: unknown cell type "${type}"`);
  }
}

/** Every non-empty row of the first sheet, in sheet order. */
export function readXlsxFirstSheet(path: string): XlsxRow[] {
  const book = new Workbook(path);
  const part = book.firstSheetPart();
  const shared = book.sharedStrings();
  const rows: XlsxRow[] = [];
  let previous = 0;
  for (const row of descendants(book.xml(part), 'row')) {
    const number = row.hasAttribute('r') ? Number(row.getAttribute('r')) : previous + 1;
    previous = number;
    const cells: string[] = [];
    let nextCol = 0;
    for (const c of childElements(row, 'c')) {
      const ref = c.getAttribute('r');
      const where = `${path} cell ${ref ?? `#${nextCol + 1} of row ${number}`}`;
      const col = ref ? columnOf(ref, where) : nextCol;
      nextCol = col + 1;
      while (cells.length < col) cells.push('');
      cells[col] = cellText(c, shared, where);
    }
    if (cells.some((v) => v !== '')) rows.push({ row: number, cells });
  }
  return rows;
}
