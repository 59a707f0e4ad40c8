import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { assembleWordPieces } from './assemble.js';
import { openTextEncoder } from './encoder.js';
import { buildTextFeatureLookup, textFeatureCacheDir } from './feature-cache.js';
import { encodeReports } from './features.js';
import { generateTinyRandomBert } from './tiny-random-bert.js';
import type { TextEncoder } from './types.js';
import { bertBaseUncasedTokenizer } from './wordpiece.js';

const TEXTS = [
  'The nuclei are evenly distributed.',
  'The nuclei density in the upper right is high.',
  'The nuclei are evenly distributed.',
  'Bilateral pulmonary infection, two infected areas, all left lung and all right lung.',
];

/** A counting fake: "loading the model" = its first encodeWords call, as with the real encoders. */
function countingEncoder(key = 'fake|v1') {
  const stats = { loads: 0, encoded: [] as string[], disposed: 0 };
  const tok = bertBaseUncasedTokenizer();
  const encoder: TextEncoder = {
    info: { name: 'fake', dim: 3, pretrained: false, substitute: true, description: 'test double' },
    cacheKey: key,
    async encodeWords(sentences) {
      if (stats.encoded.length === 0) stats.loads++;
      stats.encoded.push(...sentences);
      return sentences.map((s) => {
        const { ids, pieces } = tok.encode(s);
        return assembleWordPieces(pieces, Float32Array.from(ids.flatMap((id, pos) => [id, pos, key.length])), 3);
      });
    },
    async dispose() {
      stats.disposed++;
    },
  };
  return { encoder, stats };
}

let root: string;
beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'lvit-text-cache-'));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('buildTextFeatureLookup', () => {
  test('encodes each distinct sentence once, then serves every later call from disk', async () => {
    const cacheDir = join(root, 'a');
    const first = countingEncoder();
    let factoryCalls = 0;
    const lookup1 = await buildTextFeatureLookup(TEXTS, async () => (factoryCalls++, first.encoder), { cacheDir });
    expect(first.stats.encoded).toHaveLength(3);
    expect(first.stats.disposed).toBe(1); // a factory's encoder belongs to the lookup
    expect(lookup1.shape).toEqual([10, 3]);
    expect(lookup1.info.name).toBe('fake');

    const expected = await encodeReports(TEXTS, countingEncoder().encoder);
    TEXTS.forEach((t, i) => expect(Array.from(lookup1.lookup(t))).toEqual(Array.from(expected.subarray(i * 30, (i + 1) * 30))));

    const second = countingEncoder();
    const lookup2 = await buildTextFeatureLookup(TEXTS, async () => second.encoder, { cacheDir });
    expect(second.stats.loads).toBe(0);
    expect(second.stats.encoded).toEqual([]);
    TEXTS.forEach((t) => expect(Array.from(lookup2.lookup(t))).toEqual(Array.from(lookup1.lookup(t))));
    expect(factoryCalls).toBe(1);
  });

  test('new sentences only are encoded; a torn entry is re-encoded; other encoders and token counts are separate', async () => {
    const cacheDir = join(root, 'b');
    await buildTextFeatureLookup(TEXTS.slice(0, 2), countingEncoder().encoder, { cacheDir });
    const more = countingEncoder();
    await buildTextFeatureLookup(TEXTS, more.encoder, { cacheDir });
    expect(more.stats.encoded).toEqual([TEXTS[3]]);
    expect(more.stats.disposed).toBe(0); // passed in: the caller keeps it

    const dir = textFeatureCacheDir(cacheDir, more.encoder);
    const f32 = readdirSync(dir).filter((f) => f.endsWith('.f32'));
    expect(f32).toHaveLength(3);
    writeFileSync(join(dir, f32[0]), new Uint8Array(7));
    const repair = countingEncoder();
    await buildTextFeatureLookup(TEXTS, repair.encoder, { cacheDir });
    expect(repair.stats.encoded).toHaveLength(1);

    const otherKey = countingEncoder('fake|v2');
    await buildTextFeatureLookup(TEXTS, otherKey.encoder, { cacheDir });
    expect(otherKey.stats.encoded).toHaveLength(3);
    const longer = countingEncoder();
    const lookup14 = await buildTextFeatureLookup(TEXTS, longer.encoder, { cacheDir, tokens: 14 });
    expect(longer.stats.encoded).toHaveLength(3);
    expect(lookup14.shape).toEqual([14, 3]);

    const sidecar = readdirSync(dir).find((f) => f.endsWith('.json') && f !== 'encoder.json')!;
    expect(JSON.parse(readFileSync(join(dir, sidecar), 'utf8'))).toHaveProperty('words');
  });

  test('a text outside the set is an error naming it', async () => {
    const { lookup } = await buildTextFeatureLookup(TEXTS, countingEncoder().encoder, { cacheDir: join(root, 'c') });
    expect(() => lookup('Unseen report.')).toThrow(/no text features for "Unseen report\."/);
  });

  test('with the real tiny-random-bert: the second build never loads the model', async () => {
    const modelDir = await generateTinyRandomBert(join(root, 'tiny'));
    const cacheDir = join(root, 'd');
    const logs: string[] = [];
    const open = () => openTextEncoder('tiny-random-bert', { modelDir, log: (m) => logs.push(m) });
    const first = await buildTextFeatureLookup(TEXTS, open, { cacheDir });
    expect(logs.filter((m) => m.includes('loading tiny-random-bert'))).toHaveLength(1);
    logs.length = 0;
    const second = await buildTextFeatureLookup(TEXTS, open, { cacheDir });
    expect(logs.filter((m) => m.includes('loading'))).toEqual([]);
    expect(second.shape).toEqual([10, 32]);
    expect(second.info.name).toBe('tiny-random-bert');
    TEXTS.forEach((t) => expect(Array.from(second.lookup(t))).toEqual(Array.from(first.lookup(t))));
  });
});
