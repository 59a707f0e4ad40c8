/**
 * Argument checks shared by the blocks: each failure is an Error that names the file and the
 * problem in plain words, so a bad config fails in the constructor rather than deep in a kernel.
 */

export function requirePositiveInt(file: string, name: string, value: number): void {
  if (!Number.isInteger(value) || value <= 0) {
    throw new Error(`${file}: ${name} must be a positive integer, got ${value}`);
  }
}

export function requireRate(file: string, name: string, value: number): void {
  if (!(value >= 0 && value < 1)) {
    throw new Error(`${file}: ${name} must be a probability in [0, 1), got ${value}`);
  }
}

/** Throws unless `shape` equals `expected` (null entries match any size, e.g. the batch). */
export function requireShape(file: string, what: string, shape: readonly number[], expected: readonly (number | null)[]): void {
  const ok = shape.length === expected.length && expected.every((e, i) => e === null || e === shape[i]);
  if (!ok) {
    const want = expected.map((e) => (e === null ? 'B' : String(e))).join(',');
    throw new Error(`${file}: ${what} must have shape [${want}], got [${shape.join(',')}]`);
  }
}
