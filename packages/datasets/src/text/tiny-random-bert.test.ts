import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AutoTokenizer } from '@huggingface/transformers';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { assembleWordPieces } from './assemble.js';
import { openTextEncoder } from './encoder.js';
import { encodeReports } from './features.js';
import { lvitPreprocessText } from './preprocess.js';
import { generateTinyRandomBert, TINY_RANDOM_BERT_SHAPE, tinyRandomBertWeights, type NamedWeight } from './tiny-random-bert.js';
import type { TextEncoder } from './types.js';
import { bertBaseUncasedTokenizer } from './wordpiece.js';

const QATA = 'Bilateral pulmonary infection, two infected areas, all left lung and all right lung.';
const MONUSEG = 'The nuclei density in the upper right is high.';
const SHORT = 'The nuclei are evenly distributed.';

let root: string;
let dir: string;
let encoder: TextEncoder;

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'lvit-tiny-bert-'));
  dir = await generateTinyRandomBert(join(root, 'tiny'));
  encoder = await openTextEncoder('tiny-random-bert', { modelDir: dir });
});

afterAll(async () => {
  await encoder?.dispose();
  rmSync(root, { recursive: true, force: true });
});

describe('tiny-random-bert through transformers.js (the bert code path)', () => {
  test('is labelled as random weights', () => {
    expect(encoder.info).toMatchObject({ name: 'tiny-random-bert', dim: 32, pretrained: false, substitute: true });
    expect(encoder.info.description).toMatch(/RANDOM weights.*never for reported numbers/);
  });

  test('generation is deterministic in the seed', async () => {
    const again = await generateTinyRandomBert(join(root, 'again'), { seed: 0 });
    const other = await generateTinyRandomBert(join(root, 'other'), { seed: 1 });
    const model = (d: string) => readFileSync(join(d, 'onnx', 'model.onnx'));
    expect(model(again).equals(model(dir))).toBe(true);
    expect(model(other).equals(model(dir))).toBe(false);
    expect(readFileSync(join(again, 'tokenizer.json')).equals(readFileSync(join(dir, 'tokenizer.json')))).toBe(true);
  });

  test('its tokenizer.json gives the same ids in transformers.js as our WordPiece tokenizer', async () => {
    const hf = await AutoTokenizer.from_pretrained(dir, { local_files_only: true });
    const ours = bertBaseUncasedTokenizer();
    for (const text of [QATA, MONUSEG, lvitPreprocessText(SHORT), 'Unilateral pulmonary infection, one infected area, upper midlle left lung.', 'Café COVID-19 ground-glass,lower left'])
      expect(hf.encode(text)).toEqual(ours.encode(text, { maxLength: 512 }).ids);
  });

  test('encodeReports gives [N, 10, 32], deterministic, finite', async () => {
    const texts = [QATA, MONUSEG, SHORT];
    const a = await encodeReports(texts, encoder);
    expect(a.length).toBe(3 * 10 * 32);
    expect(a.every(Number.isFinite)).toBe(true);
    const fresh = await openTextEncoder('tiny-random-bert', { modelDir: await generateTinyRandomBert(join(root, 'fresh')) });
    const b = await encodeReports(texts, fresh);
    await fresh.dispose();
    expect(Buffer.from(b.buffer).equals(Buffer.from(a.buffer))).toBe(true);
  });

  test('word lists: QaTa keeps up to "left"; MoNuSeg has 10; short sentences end in eof xxx eof xxx', async () => {
    const [qata, monuseg, short] = await encoder.encodeWords([QATA, MONUSEG, SHORT].map(lvitPreprocessText));
    expect(qata.words.slice(0, 10)).toEqual(['bilateral', 'pulmonary', 'infection', ',', 'two', 'infected', 'areas', ',', 'all', 'left']);
    expect(qata.words.slice(10)).toEqual(['lung', 'and', 'all', 'right', 'lung', '.']);
    expect(monuseg.words).toEqual(['the', 'nuclei', 'density', 'in', 'the', 'upper', 'right', 'is', 'high', '.']);
    expect(short.words.slice(0, 10)).toEqual(['the', 'nuclei', 'are', 'evenly', 'distributed', '.', 'eof', 'xxx', 'eof', 'xxx']);
    expect(short.vectors.length).toBe(short.words.length * 32);
  });

  test('the 25-wordpiece budget: [CLS] + 23 pieces + [SEP]', async () => {
    const long = Array.from({ length: 30 }, (_, i) => (i % 2 ? 'left' : 'lung')).join(' ');
    const [out] = await encoder.encodeWords([long, 'EOF XXX']);
    expect(out.words).toHaveLength(23);
    // 13 x "eof xxx" = 52 pieces (e ##of xx ##x each pair): 23 pieces = 5 pairs + e ##of xx, so the
    // last word is the cut "xxx" -> "xx".
    const [eof] = await encoder.encodeWords([' EOF XXX'.repeat(13)]);
    expect(eof.words).toEqual([...Array(5).fill(['eof', 'xxx']).flat(), 'eof', 'xx']);
  });

  test('padding in a batch does not change a sentence’s features', async () => {
    const [alone] = await encoder.encodeWords([SHORT]);
    const [, batched] = await encoder.encodeWords([QATA, SHORT]);
    expect(batched.words).toEqual(alone.words);
    expect(maxAbsDiff(batched.vectors, alone.vectors)).toBeLessThan(1e-5);
  });

  test('matches an independent float64 BERT forward of the same weights', async () => {
    const weights = tinyRandomBertWeights(0);
    const { ids, pieces } = bertBaseUncasedTokenizer().encode(QATA);
    const reference = assembleWordPieces(pieces, referenceBertForward(weights, ids), 32);
    const [got] = await encoder.encodeWords([QATA]);
    expect(got.words).toEqual(reference.words);
    expect(maxAbsDiff(got.vectors, reference.vectors)).toBeLessThan(1e-4);
  });
});

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** Plain-loop BERT (one sentence, no padding, token type 0) in float64: [S * H]. */
function referenceBertForward(w: Map<string, NamedWeight>, ids: number[]): Float32Array {
  const { hiddenSize: H, heads, layers } = TINY_RANDOM_BERT_SHAPE;
  const S = ids.length;
  const d = H / heads;
  const get = (name: string) => w.get(name)!.data;
  const row = (name: string, r: number) => Array.from(get(name).subarray(r * H, (r + 1) * H));
  const layerNorm = (v: number[], prefix: string) => {
    const mean = v.reduce((a, b) => a + b, 0) / v.length;
    const variance = v.reduce((a, b) => a + (b - mean) ** 2, 0) / v.length;
    const g = get(`${prefix}.weight`);
    const bias = get(`${prefix}.bias`);
    return v.map((x, i) => ((x - mean) / Math.sqrt(variance + 1e-12)) * g[i] + bias[i]);
  };
  const dense = (v: number[], prefix: string) => {
    const { dims, data } = w.get(`${prefix}.weight`)!;
    const [inDim, outDim] = dims;
    const bias = get(`${prefix}.bias`);
    return Array.from({ length: outDim }, (_, o) => {
      let s = bias[o];
      for (let i = 0; i < inDim; i++) s += v[i] * data[i * outDim + o];
      return s;
    });
  };
  let x = ids.map((id, s) => {
    const e = row('embeddings.word_embeddings.weight', id);
    const p = row('embeddings.position_embeddings.weight', s);
    const t = row('embeddings.token_type_embeddings.weight', 0);
    return layerNorm(e.map((v, i) => v + p[i] + t[i]), 'embeddings.LayerNorm');
  });
  for (let l = 0; l < layers; l++) {
    const p = `encoder.layer.${l}`;
    const q = x.map((v) => dense(v, `${p}.attention.self.query`));
    const k = x.map((v) => dense(v, `${p}.attention.self.key`));
    const val = x.map((v) => dense(v, `${p}.attention.self.value`));
    const context = x.map(() => new Array<number>(H).fill(0));
    for (let h = 0; h < heads; h++) {
      for (let i = 0; i < S; i++) {
        const scores = k.map((kj) => {
          let s = 0;
          for (let c = h * d; c < (h + 1) * d; c++) s += q[i][c] * kj[c];
          return s / Math.sqrt(d);
        });
        const max = Math.max(...scores);
        const e = scores.map((s) => Math.exp(s - max));
        const z = e.reduce((a, b) => a + b, 0);
        for (let j = 0; j < S; j++) for (let c = h * d; c < (h + 1) * d; c++) context[i][c] += (e[j] / z) * val[j][c];
      }
    }
    x = x.map((v, i) => {
      const attn = dense(context[i], `${p}.attention.output.dense`);
      const a = layerNorm(attn.map((y, c) => y + v[c]), `${p}.attention.output.LayerNorm`);
      const hidden = dense(a, `${p}.intermediate.dense`).map((y) => 0.5 * y * (1 + erf(y / Math.SQRT2)));
      const out = dense(hidden, `${p}.output.dense`);
      return layerNorm(out.map((y, c) => y + a[c]), `${p}.output.LayerNorm`);
    });
  }
  return Float32Array.from(x.flat());
}

/** erf by its Maclaurin series, accurate to ~1e-15 for |y| < 3 (FFN inputs here have std ~0.1). */
function erf(y: number): number {
  if (Math.abs(y) >= 3) throw new Error(`reference erf: |${y}| >= 3 is outside the series' range`);
  let term = y;
  let sum = y;
  for (let n = 1; n < 80; n++) {
    term *= (-y * y) / n;
    sum += term / (2 * n + 1);
  }
  return (2 / Math.sqrt(Math.PI)) * sum;
}
