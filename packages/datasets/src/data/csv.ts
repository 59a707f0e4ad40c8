/**
 * A small RFC 4180 CSV reader (quoted fields, doubled quotes, CRLF) for the staged text tables.
 * Rows come back as objects keyed by the header; a missing required column is an error that names
 * the file.
 */
import { readFileSync } from 'node:fs';

export interface CsvTable {
  path: string;
  header: string[];
  /** One object per data row; `line` is the 1-based line of the row in the file (header = 1). */
  rows: { line: number; values: Record<string, string> }[];
}

/** Split CSV text into records of fields (fields are sliced, not built char by char: tables have ~10k rows). */
export function parseCsv(text: string, path = '<csv>'): string[][] {
  const records: string[][] = [];
  let record: string[] = [];
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0; // skip a BOM
  const n = text.length;
  const endRecord = () => {
    if (!(record.length === 1 && record[0] === '')) records.push(record);
    record = [];
  };
  while (i < n) {
    if (text[i] === '"') {
      // Quoted field: runs to the next quote not followed by another quote.
      let value = '';
      let j = i + 1;
      for (;;) {
        const q = text.indexOf('"', j);
        if (q < 0) throw new Error(`${path}: unterminated quoted field in record ${records.length + 1}`);
        value += text.slice(j, q);
        if (text[q + 1] === '"') {
          value += '"';
          j = q + 2;
        } else {
          i = q + 1;
          break;
        }
      }
      record.push(value);
      const after = text[i];
      if (after === ',') i++;
      else if (after === '\r' || after === '\n') {
        i += after === '\r' && text[i + 1] === '\n' ? 2 : 1;
        endRecord();
      } else if (i < n) throw new Error(`${path}: text after a closing quote in record ${records.length + 1}`);
    } else {
      let j = i;
      while (j < n && text[j] !== ',' && text[j] !== '\n' && text[j] !== '\r') j++;
      const value = text.slice(i, j);
      if (value.includes('"')) throw new Error(`${path}: stray quote inside an unquoted field in record ${records.length + 1}`);
      record.push(value);
      if (j >= n) {
        i = j;
        break;
      }
      if (text[j] === ',') {
        i = j + 1;
        if (i >= n) record.push('');
      } else {
        i = j + (text[j] === '\r' && text[j + 1] === '\n' ? 2 : 1);
        endRecord();
      }
    }
  }
  if (record.length > 0) endRecord();
  return records;
}

/** Read a CSV file with a header row; throws naming the file if a required column is missing. */
export function readCsvTable(path: string, requiredColumns: readonly string[]): CsvTable {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new Error(`${path}: cannot read text table (${(err as Error).message})`);
  }
  const records = parseCsv(text, path);
  if (records.length === 0) throw new Error(`${path}: empty file (expected a header row)`);
  const header = records[0].map((h) => h.trim());
  const missing = requiredColumns.filter((c) => !header.includes(c));
  if (missing.length > 0) {
    throw new Error(`${path}: missing column(s) ${missing.join(', ')} (header has: ${header.join(', ')})`);
  }
  const rows = records.slice(1).map((rec, k) => {
    if (rec.length !== header.length) {
      throw new Error(`${path}: row ${k + 2} has ${rec.length} fields, header has ${header.length}`);
    }
    const values: Record<string, string> = {};
    header.forEach((h, j) => (values[h] = rec[j]));
    return { line: k + 2, values };
  });
  return { path, header, rows };
}
