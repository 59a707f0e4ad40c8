import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import {
  drawLabeledSubset,
  LABEL_MANIFEST_SCHEMA,
  makeLabelManifest,
  readLabelManifest,
  subsetSplit,
  writeLabelManifest,
} from './label-fraction.js';
import { makeSyntheticDataset } from './synthetic.js';
import { tempDir } from './test-fixtures.js';

const ids = Array.from({ length: 5716 }, (_, i) => `img_${i}`);

describe('drawLabeledSubset', () => {
  test.each([
    [0.25, 1429],
    [0.5, 2858],
    [1, 5716],
  ])('fraction %f of 5716 labels %i', (fraction, n) => {
    const { labeled, unlabeled } = drawLabeledSubset(ids, fraction, 666);
    expect(labeled.length).toBe(n);
    expect(unlabeled.length).toBe(5716 - n);
    expect(new Set([...labeled, ...unlabeled]).size).toBe(5716);
  });

  test('round-down with at least one label; 24 MoNuSeg images at 25 % -> 6', () => {
    const small = ids.slice(0, 24);
    expect(drawLabeledSubset(small, 0.25, 1).labeled.length).toBe(6);
    expect(drawLabeledSubset(small, 0.01, 1).labeled.length).toBe(1);
    expect(drawLabeledSubset(Array.from({ length: 100 }, (_, i) => `x${i}`), 0.29, 1).labeled.length).toBe(29);
  });

  test('fixed seed -> same draw, independent of input order; other seed -> other draw', () => {
    const a = drawLabeledSubset(ids, 0.25, 666);
    const b = drawLabeledSubset([...ids].reverse(), 0.25, 666);
    const c = drawLabeledSubset(ids, 0.25, 667);
    expect(b).toEqual(a);
    expect(c.labeled).not.toEqual(a.labeled);
  });

  test('the 25 % draw is not simply the first ids', () => {
    const { labeled } = drawLabeledSubset(ids, 0.25, 666);
    const sorted = [...ids].sort();
    expect(labeled).not.toEqual(sorted.slice(0, labeled.length));
  });

  test('rejects bad fractions and duplicate ids', () => {
    expect(() => drawLabeledSubset(ids, 0, 1)).toThrow(/\(0, 1\]/);
    expect(() => drawLabeledSubset(ids, 1.5, 1)).toThrow(/\(0, 1\]/);
    expect(() => drawLabeledSubset(['a', 'a'], 0.5, 1)).toThrow(/duplicates/);
  });
});

describe('label manifest', () => {
  test('write/read round trip with sha256 of the sorted labelled ids', () => {
    const dir = tempDir('labels');
    const m = makeLabelManifest('qata', ids.slice(0, 40), 0.5, 666);
    const path = join(dir, 'labels', 'qata-0.5-666.json');
    const written = writeLabelManifest(path, m);
    const expectedSha = createHash('sha256').update([...m.labeled].sort().join('\n')).digest('hex');
    expect(written.labeledSha256).toBe(expectedSha);
    expect(written.schema).toBe(LABEL_MANIFEST_SCHEMA);
    expect(readLabelManifest(path)).toEqual(written);
  });

  test('a tampered manifest fails its checksum', () => {
    const dir = tempDir('labels');
    const path = join(dir, 'm.json');
    writeLabelManifest(path, { dataset: 'monuseg', fraction: 0.25, seed: 1, labeled: ['a', 'b'], unlabeled: ['c'] });
    const m = JSON.parse(readFileSync(path, 'utf8'));
    m.labeled.push('c');
    writeFileSync(path, JSON.stringify(m));
    expect(() => readLabelManifest(path)).toThrow(/labeledSha256 does not match/);
  });

  test('rejects an id that is both labelled and unlabelled', () => {
    expect(() => writeLabelManifest(join(tempDir('labels'), 'x.json'), { dataset: 'd', fraction: 0.5, seed: 1, labeled: ['a'], unlabeled: ['a'] })).toThrow(/both labelled and unlabelled/);
  });
});

describe('subsetSplit', () => {
  const ds = makeSyntheticDataset({ size: 16, seed: 3 });
  test('keeps the given ids in the given order and returns the same samples', () => {
    const chosen = [ds.train.ids[5], ds.train.ids[1]];
    const sub = subsetSplit(ds.train, chosen);
    expect(sub.size).toBe(2);
    expect(sub.ids).toEqual(chosen);
    expect([sub.height, sub.width, sub.channels, sub.split]).toEqual([16, 16, 3, 'train']);
    expect(sub.sample(0)).toEqual(ds.train.sample(5));
    expect(sub.sample(1)).toEqual(ds.train.sample(1));
    expect(() => sub.sample(2)).toThrow(/out of range/);
    expect([sub.text(0), sub.text(1)]).toEqual([ds.train.sample(5).text, ds.train.sample(1).text]);
    expect(() => sub.text(2)).toThrow(/out of range/);
  });

  test('an unknown id is an error', () => {
    expect(() => subsetSplit(ds.train, ['nope'])).toThrow(/"nope" is not in synthetic\/train/);
  });
});
